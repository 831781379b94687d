"""The development master key: `flowyard up` without FLOWYARD_MASTER_KEY generates 32 random bytes (base64)
on first start into FLOWYARD_HOME/secrets/master-key (0600, like the Prefect secrets) and gives it to its
children; a later `up`, and `flowyard worker` or `flowyard keys` beside it, reuse it. Data keys wrapped by
the public placeholder key of earlier versions are re-wrapped with it on start."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from pydantic import SecretStr

from core.settings import PLACEHOLDER_MASTER_KEY, Settings
from flowyard.prefect_secrets import kept_secret, secrets_dir


def master_key_path(home: Path) -> Path:
    return secrets_dir(home) / "master-key"


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def is_given(settings: Settings) -> bool:
    return settings.master_key.get_secret_value() != PLACEHOLDER_MASTER_KEY


def resolve(settings: Settings) -> str | None:
    """The key `up` gives its children: None when FLOWYARD_MASTER_KEY is set (they read it themselves),
    else the one kept in the home, made on first start. The caller holds the home's lock."""
    if is_given(settings):
        return None
    return kept_secret(master_key_path(settings.home_dir), new_master_key)


def with_stored_key(settings: Settings) -> Settings:
    """These settings, with the key `up` keeps in the home when none is set (for commands beside `up`)."""
    path = master_key_path(settings.home_dir)
    if is_given(settings) or not path.exists() or not (stored := path.read_text().strip()):
        return settings
    return settings.model_copy(update={"master_key": SecretStr(stored)})


def rewrap_placeholder_keys(settings: Settings, master_key: str) -> int:
    """Re-wrap data keys still wrapped by the public placeholder with the home's own key."""
    from blocks.crypto import MasterKeys, rewrap_data_keys
    from store.db import get_session_factory

    with get_session_factory(settings.platform_database_url)() as db:
        return rewrap_data_keys(db, MasterKeys(master_key, (PLACEHOLDER_MASTER_KEY,)))
