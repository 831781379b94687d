"""The local Prefect server's two secrets: the API auth string and the block encryption key.

Without an auth string the Prefect API is an open door: anyone who reaches its port reads every tenant's flow
runs and connection blocks, or creates flow runs. Without an encryption key of its own, Prefect generates one
and stores it in the same database as the blocks it encrypts. `flowyard up` therefore makes both once and
keeps them in FLOWYARD_HOME/secrets (files 0600 in a 0700 directory); a later `up` reuses them, as a new
encryption key would leave every stored block unreadable. Settings (FLOWYARD_PREFECT__AUTH_STRING,
FLOWYARD_PREFECT__ENCRYPTION_KEY) take precedence: production passes its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from core.settings import Settings

AUTH_USER = "flowyard"


@dataclass(frozen=True)
class PrefectSecrets:
    auth_string: str | None  # None: an external Prefect server that asks for none
    encryption_key: str | None  # only for the server `up` starts


def secrets_dir(home: Path) -> Path:
    return home / "secrets"


def auth_string_path(home: Path) -> Path:
    return secrets_dir(home) / "prefect-auth-string"


def encryption_key_path(home: Path) -> Path:
    return secrets_dir(home) / "prefect-encryption-key"


def new_auth_string() -> str:
    return f"{AUTH_USER}:{secrets.token_urlsafe(32)}"


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The value stored at `path`, made and stored (0600) first if there is none. The caller holds the home's
    lock, so no other `up` writes it at the same time."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if path.exists():
        path.chmod(0o600)
        value = path.read_text().strip()
        if value:
            return value
    value = make()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    partial.replace(path)  # never a half-written secret
    return value


def key_in_prefect_database(database_url: str) -> str | None:
    """The key a Prefect server of an earlier Flowyard generated and stored beside its blocks, if any: kept,
    so that those blocks stay readable."""
    import json

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    url = url.set(
        drivername={"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}.get(url.get_backend_name(), url.drivername)
    )
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            value = connection.execute(text("SELECT value FROM configuration WHERE key = 'ENCRYPTION_KEY'")).scalar()
    except Exception:  # no such database or table yet: a new server
        return None
    finally:
        engine.dispose()
    if value is None:
        return None
    key = (json.loads(value) if isinstance(value, str) else value).get("fernet_key")
    return str(key) if key else None


def stored_auth_string(home: Path) -> str | None:
    """The auth string `up` keeps in this home, if it made one (for `flowyard worker` beside it)."""
    path = auth_string_path(home)
    return (path.read_text().strip() or None) if path.exists() else None


def resolve(settings: Settings) -> PrefectSecrets:
    """What `up` gives its children: the settings' values, else (for the server it starts) the kept ones."""
    home, prefect = settings.home_dir, settings.prefect
    if prefect.auth_string is not None:
        auth: str | None = prefect.auth_string.get_secret_value()
    elif prefect.start_server:
        auth = kept_secret(auth_string_path(home), new_auth_string)
    else:
        auth = stored_auth_string(home)
    key = None
    if prefect.start_server:
        given = prefect.encryption_key
        if given is not None:
            key = given.get_secret_value()
        else:
            database_url = settings.prefect_database_url
            key = kept_secret(
                encryption_key_path(home), lambda: key_in_prefect_database(database_url) or new_encryption_key()
            )
        Fernet(key.encode())  # a malformed key fails here, not in the server at the first block it stores
    return PrefectSecrets(auth, key)
