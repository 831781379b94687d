"""Tenant payloads sealed at rest: AES-256-GCM under the tenant's data key, in the column types
`EncryptedJSON` and `EncryptedText`, so that no query or route handles ciphertext by hand.

A sealed value is `fy2.<data key id>.<base64url(nonce + ciphertext + tag)>`, bound (GCM associated data)
to its tenant and to `table.column`: copied to another tenant or another column it does not open.

Writing needs the tenant, which a column type is not told. The session says it: `seal_as(session,
tenant_id)` (the API does it for every authenticated request), or else the rows themselves do when all
the rows a flush or a bulk statement writes belong to one tenant. The session events below put that
tenant's current key in a context variable around each flush and statement. Reading needs no tenant:
the value names its key, and the key its tenant (`PayloadKeyring.opening_key`).

The keys come from a `PayloadKeyring` that `blocks.crypto` installs (persistence sits below the key
management); a value that is not sealed is read as plain JSON (rows written before payload encryption,
or with it switched off for the benchmark's comparison) until `engine.reencrypt` seals it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Engine, Text, TypeDecorator, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

PREFIX = "fy1."  # sealed before key ids: with the tenant's first data key
PREFIX_WITH_KEY_ID = "fy2."  # fy2.<data key id>.<nonce + ciphertext>
NONCE_BYTES = 12
_TENANT_KEY = "flowyard.sealing_tenant"


class DecryptionError(Exception):
    """A sealed value did not open: wrong key (master key changed?), a destroyed key, or tampered ciphertext."""


class SealingError(Exception):
    """A tenant payload was about to be written without knowing whose it is."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=1024)
def _aead(key: bytes) -> AESGCM:  # building one costs as much as sealing a kilobyte
    return AESGCM(key)


def seal(key: bytes, plaintext: str, *, aad: str, key_id: str | None = None) -> str:
    nonce = os.urandom(NONCE_BYTES)
    body = b64(nonce + _aead(key).encrypt(nonce, plaintext.encode(), aad.encode()))
    return PREFIX + body if key_id is None else f"{PREFIX_WITH_KEY_ID}{key_id}.{body}"


def unseal(key: bytes, token: str, *, aad: str) -> str:
    if not is_sealed(token):
        raise DecryptionError("the value is not sealed")
    try:
        raw = unb64(token.rsplit(".", 1)[1])  # base64url has no dots; key ids have none either
        return _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("the value does not open with this key") from exc


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith((PREFIX, PREFIX_WITH_KEY_ID))


def sealed_key_id(token: str) -> str | None:
    """The id of the data key that sealed a payload (None: sealed before key ids)."""
    return token[len(PREFIX_WITH_KEY_ID) :].split(".", 1)[0] if token.startswith(PREFIX_WITH_KEY_ID) else None


@lru_cache(maxsize=4096)
def _field_key(key: bytes, field: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowyard", info=f"fy-bidx-v1|{field}".encode()).derive(key)


def blind_index(key: bytes, field: str, value: str) -> str:
    """The value's keyed hash for `field`: equal values of one field and tenant hash alike, nothing else."""
    return hmac.new(_field_key(key, field), value.encode(), hashlib.sha256).hexdigest()


def tenant_blind_index(session: Session, tenant_id: str, field: str, value: str) -> str:
    """`blind_index` under the tenant's index key (exact-match lookups of sealed values, e.g. a contact's email)."""
    return blind_index(installed_keyring().index_key(session, tenant_id), field, value)


# --- keys ---------------------------------------------------------------------------------------


class PayloadKeyring(Protocol):
    @property
    def encrypt(self) -> bool:
        """False only for the benchmark's before/after comparison."""

    def sealing_key(self, session: Session, tenant_id: str) -> tuple[str, bytes]:
        """The tenant's current data key and its id, read (or made) in `session`'s transaction."""

    def opening_key(self, key_id: str, engine: Engine | None) -> tuple[str, bytes]:
        """The tenant and the data key of a key id, looked up in `engine`'s database (None: the configured
        one) on a cache miss; `DecryptionError` when it is gone."""

    def index_key(self, session: Session, tenant_id: str) -> bytes:
        """The tenant's blind-index key, read (or made) in `session`'s transaction."""


@dataclass(frozen=True)
class _Sealer:
    tenant_id: str
    key_id: str
    key: bytes


_keyring: PayloadKeyring | None = None
_sealer: ContextVar[_Sealer | None] = ContextVar("flowyard_sealer", default=None)
# The database this context last read from: where a value's key is looked up (rows are decoded after the
# statement returns, so this is not reset).
_reading: ContextVar[Engine | None] = ContextVar("flowyard_reading", default=None)


def install_keyring(keyring: PayloadKeyring) -> None:
    global _keyring
    _keyring = keyring


def installed_keyring() -> PayloadKeyring:
    if _keyring is None:
        raise SealingError("no payload keyring is installed: import blocks.crypto before using the database")
    return _keyring


def seal_as(session: Session, tenant_id: str) -> None:
    """Payloads `session` writes from now on are `tenant_id`'s (and only its rows may be written)."""
    session.info[_TENANT_KEY] = tenant_id


@contextmanager
def sealing_for(session: Session, tenant_id: str) -> Iterator[None]:
    """`seal_as` for the statements inside the block only: for sessions that cross tenants (the engine)."""
    earlier = session.info.get(_TENANT_KEY)
    session.info[_TENANT_KEY] = tenant_id
    try:
        yield
    finally:
        if earlier is None:
            session.info.pop(_TENANT_KEY, None)
        else:
            session.info[_TENANT_KEY] = earlier


def _use_key_of(session: Session, tenant_id: str | None) -> Token[_Sealer | None]:
    """Seal with `tenant_id`'s current key until the token is reset (nobody's when None)."""
    keyring = _keyring
    if tenant_id is None or keyring is None or not keyring.encrypt:
        return _sealer.set(None)
    key_id, key = keyring.sealing_key(session, tenant_id)
    return _sealer.set(_Sealer(tenant_id, key_id, key))


def _one_tenant(session: Session, tenants: set[str]) -> str | None:
    """Whose payloads these are: the session's tenant, or the one tenant of the rows written."""
    declared = session.info.get(_TENANT_KEY)
    if declared is not None:
        if tenants - {declared}:
            raise SealingError(f"a session of tenant {declared} wrote rows of another tenant")
        return str(declared)
    return next(iter(tenants)) if len(tenants) == 1 else None


def _has_sealed_columns(instance: object) -> bool:
    table = getattr(instance, "__table__", None)
    return any(isinstance(column.type, Sealed) for column in getattr(table, "columns", ()))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    written = [o for o in (*session.new, *session.dirty) if _has_sealed_columns(o)]
    tenants = {str(o.tenant_id) for o in written if getattr(o, "tenant_id", None)}
    _use_key_of(session, _one_tenant(session, tenants))  # reset after the flush, or by the next one


@event.listens_for(Session, "after_flush_postexec")
@event.listens_for(Session, "after_soft_rollback")
def _after_flush(session: Session, *_: object) -> None:
    _sealer.set(None)


@event.listens_for(Session, "do_orm_execute")
def _around_statement(state: ORMExecuteState) -> Any:
    bind = state.session.get_bind()
    _reading.set(bind if isinstance(bind, Engine) else bind.engine)
    if not (state.is_insert or state.is_update):
        return None
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    tenants = {str(row["tenant_id"]) for row in rows if isinstance(row, dict) and row.get("tenant_id")}
    with sealing_with_key_of(state.session, _one_tenant(state.session, tenants)):
        return state.invoke_statement()


@contextmanager
def sealing_with_key_of(session: Session, tenant_id: str | None) -> Iterator[None]:
    """Values bound inside the block are sealed with `tenant_id`'s current key (none: nobody's)."""
    token = _use_key_of(session, tenant_id)
    try:
        yield
    finally:
        _sealer.reset(token)


class Sealed(TypeDecorator[Any]):
    """Base of the sealed column types: `context` is `table.column`, bound into every value."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def dump(self, value: Any) -> str:
        raise NotImplementedError

    def load(self, text: Any) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        plaintext = self.dump(value)
        if not installed_keyring().encrypt:
            return plaintext
        sealer = _sealer.get()
        if sealer is None:
            raise SealingError(
                f"{self.context} was written with no tenant to seal it for: call store.sealed.seal_as(session, "
                "tenant_id) on the session that writes it"
            )
        return seal(sealer.key, plaintext, aad=f"{sealer.tenant_id}|{self.context}", key_id=sealer.key_id)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not is_sealed(value):
            return self.load(value)  # written before payload encryption (or with it off)
        tenant_id, key = installed_keyring().opening_key(sealed_key_id(value) or "", _reading.get())
        return self.load(unseal(key, value, aad=f"{tenant_id}|{self.context}"))


class EncryptedJSON(Sealed):
    """A JSON value (dict, list, string, number) sealed as text."""

    cache_ok = True  # SQLAlchemy reads it from each class

    def dump(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def load(self, text: Any) -> Any:
        return json.loads(text) if isinstance(text, str) else text  # SQLite hands a bare number back as one


class EncryptedText(Sealed):
    """A string sealed as text."""

    cache_ok = True

    def dump(self, value: Any) -> str:
        return str(value)

    def load(self, text: Any) -> Any:
        return str(text)
