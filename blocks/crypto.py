"""AES-256-GCM envelope encryption.

Each tenant has a random 256-bit data key. It is stored only wrapped (AES-256-GCM) by a key derived
from FLOWYARD_MASTER_KEY, in `tenant_keys`, with the id of the master key that wrapped it. Secrets are
sealed with the data key, bound (as GCM associated data) to the tenant and to where they are stored, so a
ciphertext copied to another tenant or another field does not open. A block's settings are authenticated
with a MAC under a key derived from the same data key (`TenantCipher.mac`), so they cannot be changed where
they are stored.

Both rotate. A sealed value and a MAC name the data key that made them (`fy2.<key id>.…`), so a tenant's
new data key seals from the moment it exists while values sealed with its earlier ones
(`tenant_retired_keys`) still open until they are sealed again. A wrapped data key names its master key,
so FLOWYARD_PREVIOUS_MASTER_KEYS keep opening what they wrapped until `flowyard keys rotate-master`
re-wraps it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, TypeVar

from cachetools import TTLCache
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, create_engine, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.settings import get_settings
from store import RetiredTenantKey, TenantKey
from store.db import get_engine, normalise_url
from store.sealed import (
    PREFIX,
    PREFIX_WITH_KEY_ID,
    DecryptionError,
    blind_index,
    install_keyring,
    is_sealed,
    seal,
    unseal,
)
from store.sealed import b64 as _b64
from store.sealed import unb64 as _unb64
from store.secrets import FIRST_KEY_ID
from store.vault import KeyVault

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["PREFIX", "PREFIX_WITH_KEY_ID", "DecryptionError", "blind_index", "is_sealed", "seal", "unseal"]

MAC_PREFIX = "fym1."
MAC_PREFIX_WITH_KEY_ID = "fym2."


def key_id_of(token: str) -> str:
    """The id of the data key that sealed a value or made a MAC."""
    for prefix in (PREFIX_WITH_KEY_ID, MAC_PREFIX_WITH_KEY_ID):
        if token.startswith(prefix):
            return token[len(prefix) :].split(".", 1)[0]
    return FIRST_KEY_ID


@lru_cache(maxsize=4)
def master_kek(master_key: str) -> bytes:
    """The key-encryption key: HKDF-SHA256 of the configured master key (any length, any text)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowyard", info=b"master-kek-v1").derive(
        master_key.encode()
    )


@lru_cache(maxsize=8)
def master_key_id(master_key: str) -> str:
    """A public name of a master key (recorded beside what it wrapped); reveals nothing of the key."""
    return (
        HKDF(algorithm=hashes.SHA256(), length=8, salt=b"flowyard", info=b"master-key-id-v1")
        .derive(master_key.encode())
        .hex()
    )


@dataclass(frozen=True)
class MasterKeys:
    """The master key that wraps new data keys, and earlier ones that still open what they wrapped."""

    current: str
    previous: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> MasterKeys:
        return cls(
            settings.master_key.get_secret_value(),
            tuple(key.get_secret_value() for key in settings.previous_master_keys),
        )

    @property
    def current_id(self) -> str:
        return master_key_id(self.current)

    def candidates(self, wrapped_by: str | None) -> list[str]:
        """The master keys to try on a data key wrapped by `wrapped_by` (None: wrapped before ids, try all)."""
        keys = [self.current, *self.previous]
        return keys if wrapped_by is None else [key for key in keys if master_key_id(key) == wrapped_by]


@dataclass(frozen=True)
class TenantCipher:
    """Seals and opens one tenant's secrets; `context` says where the value is stored. Seals with the
    current data key `key`; opens with it or with a retired key still in use (`older`, by key id)."""

    tenant_id: str
    key: bytes
    key_id: str
    older: tuple[tuple[str, bytes], ...] = ()

    def seal(self, plaintext: str, *, context: str) -> str:
        return seal(self.key, plaintext, aad=f"{self.tenant_id}|{context}", key_id=self.key_id)

    def unseal(self, token: str, *, context: str) -> str:
        return unseal(self._key(key_id_of(token)), token, aad=f"{self.tenant_id}|{context}")

    def mac(self, message: str, *, context: str) -> str:
        """An HMAC-SHA256 of `message` under a key derived from the data key (never the data key itself)."""
        return f"{MAC_PREFIX_WITH_KEY_ID}{self.key_id}.{self._digest(self.key, message, context)}"

    def mac_matches(self, tag: str, message: str, *, context: str) -> bool:
        key_id = key_id_of(tag)
        try:
            digest = self._digest(self._key(key_id), message, context)
        except DecryptionError:
            return False
        expected = MAC_PREFIX + digest if key_id == FIRST_KEY_ID else f"{MAC_PREFIX_WITH_KEY_ID}{key_id}.{digest}"
        return hmac.compare_digest(tag.encode(), expected.encode())

    def _digest(self, key: bytes, message: str, context: str) -> str:
        data = f"{self.tenant_id}|{context}|{message}".encode()
        return _b64(hmac.new(_mac_key(key), data, hashlib.sha256).digest())

    def _key(self, key_id: str) -> bytes:
        if key_id == self.key_id:
            return self.key
        for older_id, key in self.older:
            if older_id == key_id:
                return key
        raise DecryptionError(f"the data key {key_id} that sealed the value is gone")

    def __repr__(self) -> str:  # never print the key
        return f"TenantCipher(tenant_id={self.tenant_id!r})"


@lru_cache(maxsize=1024)
def _mac_key(data_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowyard", info=b"settings-mac-v1").derive(data_key)


def _wrap_aad(tenant_id: str) -> str:
    return f"tenant-data-key|{tenant_id}"


def _kek(master_key: str, tenant_id: str, vault_secret: bytes | None) -> bytes:
    """What wraps a tenant's data keys: the master key's KEK, mixed with the tenant's vault secret (None:
    a data key wrapped before the vault, by the master key alone)."""
    if vault_secret is None:
        return master_kek(master_key)
    info = f"tenant-kek-v1|{tenant_id}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=vault_secret, info=info).derive(master_kek(master_key))


def _wrap(master_key: str, tenant_id: str, key: bytes, vault_secret: bytes | None) -> str:
    return seal(_kek(master_key, tenant_id, vault_secret), _b64(key), aad=_wrap_aad(tenant_id))


class _Wrapped(Protocol):
    tenant_id: str
    wrapped_key: str
    master_key_id: str | None
    vaulted: bool


# Opened data keys, for a bounded time: a destroyed (workspace deleted) or replaced key stops being used
# by every process within the TTL (FLOWYARD_KEYS__CACHE_SECONDS).
_cache_lock = threading.Lock()
_opened: TTLCache[tuple[str, str, MasterKeys], bytes] = TTLCache(maxsize=1024, ttl=get_settings().keys.cache_seconds)
_sealing: TTLCache[str, tuple[str, bytes]] = TTLCache(maxsize=1024, ttl=get_settings().keys.cache_seconds)
_by_key_id: TTLCache[str, tuple[str, bytes]] = TTLCache(maxsize=4096, ttl=get_settings().keys.cache_seconds)


def forget_tenant_keys(tenant_id: str) -> None:
    """Drop this process's opened keys of a tenant (after a rotation or a deletion)."""
    with _cache_lock:
        for name in [name for name in _opened if name[0] == tenant_id]:
            _opened.pop(name, None)
        _sealing.pop(tenant_id, None)
        for key_id in [key_id for key_id, (owner, _) in _by_key_id.items() if owner == tenant_id]:
            _by_key_id.pop(key_id, None)


def _vault() -> KeyVault:
    return KeyVault(get_settings().keys_vault_url)


def _vault_secret(row: _Wrapped) -> bytes | None:
    if not row.vaulted:
        return None
    secret = _vault().secret(row.tenant_id)
    if secret is None:
        raise DecryptionError(f"tenant {row.tenant_id}'s keys were destroyed (the workspace was deleted)")
    return secret


def _open(row: _Wrapped, masters: MasterKeys) -> bytes:
    with _cache_lock:
        cached = _opened.get((row.tenant_id, row.wrapped_key, masters))
    if cached is not None:
        return cached
    secret = _vault_secret(row)
    for master_key in masters.candidates(row.master_key_id):
        try:
            key = _unb64(unseal(_kek(master_key, row.tenant_id, secret), row.wrapped_key, aad=_wrap_aad(row.tenant_id)))
        except DecryptionError:
            continue
        with _cache_lock:
            _opened[(row.tenant_id, row.wrapped_key, masters)] = key
        return key
    raise DecryptionError(
        f"tenant {row.tenant_id}'s data key does not open with the configured master keys "
        f"(it was wrapped by master key {row.master_key_id or 'of before key ids'}): set FLOWYARD_MASTER_KEY, "
        "or list the earlier key in FLOWYARD_PREVIOUS_MASTER_KEYS until `flowyard keys rotate-master` has run"
    )


def _new_key_id() -> str:
    return os.urandom(6).hex()


def _masters(master_key: str | MasterKeys) -> MasterKeys:
    return master_key if isinstance(master_key, MasterKeys) else MasterKeys(master_key)


def _new_key_row(tenant_id: str, masters: MasterKeys) -> TenantKey:
    secret = _vault().create(tenant_id)
    return TenantKey(
        tenant_id=tenant_id,
        key_id=_new_key_id(),
        wrapped_key=_wrap(masters.current, tenant_id, os.urandom(32), secret),
        master_key_id=masters.current_id,
        vaulted=True,
    )


def _pending_or_stored_key(db: Session, tenant_id: str) -> TenantKey | None:
    """The tenant's key row, also when it was made in this session and is not flushed yet."""
    for pending in db.new:
        if isinstance(pending, TenantKey) and pending.tenant_id == tenant_id:
            return pending
    with db.no_autoflush:
        return db.get(TenantKey, tenant_id)


def tenant_cipher(db: Session, tenant_id: str, *, master_key: str | MasterKeys) -> TenantCipher:
    """The tenant's cipher; creates its data key on first use, in the caller's transaction (a second
    session would wait forever for the caller's SQLite write lock)."""
    masters = _masters(master_key)
    row = _pending_or_stored_key(db, tenant_id)
    if row is None:
        try:
            with db.begin_nested():
                db.add(_new_key_row(tenant_id, masters))
        except IntegrityError:  # created concurrently: use that one
            pass
        row = db.get(TenantKey, tenant_id, populate_existing=True)
        if row is None:
            raise RuntimeError(f"tenant {tenant_id}'s data key was neither created nor found")
    retired = db.scalars(select(RetiredTenantKey).where(RetiredTenantKey.tenant_id == tenant_id)).all()
    older = tuple((old.key_id, _open(old, masters)) for old in retired)
    return TenantCipher(tenant_id, _open(row, masters), row.key_id, older)


def cipher_for(db: Session, tenant_id: str, settings: Settings) -> TenantCipher:
    """The tenant's cipher under the configured master keys (FLOWYARD_MASTER_KEY and the previous ones)."""
    return tenant_cipher(db, tenant_id, master_key=MasterKeys.of(settings))


def destroy_tenant_keys(db: Session, tenant_id: str) -> None:
    """Crypto-shredding: the tenant's vault secret is destroyed, so its data keys (current and retired, here
    and in every earlier copy of the database) never open again; their rows go in the caller's transaction."""
    db.execute(delete(RetiredTenantKey).where(RetiredTenantKey.tenant_id == tenant_id))
    db.execute(delete(TenantKey).where(TenantKey.tenant_id == tenant_id))
    _vault().destroy(tenant_id)
    forget_tenant_keys(tenant_id)


# --- payload keys (store.sealed) -----------------------------------------------------------------


@lru_cache(maxsize=8)
def _reader(url: str) -> Engine:
    """Reads data keys beside a caller's transaction. On SQLite without taking the write lock (the platform
    engine's transactions take it up front, and the caller may hold it)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    return get_engine(url)


class SettingsKeyring:
    """Payload keys for `store.sealed`, under the configured master keys."""

    @property
    def encrypt(self) -> bool:
        return get_settings().keys.encrypt_payloads

    def sealing_key(self, session: Session, tenant_id: str) -> tuple[str, bytes]:
        with _cache_lock:
            cached = _sealing.get(tenant_id)
        if cached is not None:
            return cached
        masters = MasterKeys.of(get_settings())
        row = _pending_or_stored_key(session, tenant_id)
        if row is None:  # added to the caller's transaction (this may run inside its flush)
            row = _new_key_row(tenant_id, masters)
            session.add(row)
        key = (row.key_id, _open(row, masters))
        with _cache_lock:
            _sealing[tenant_id] = key
            _by_key_id[row.key_id] = (tenant_id, key[1])
        return key

    def index_key(self, session: Session, tenant_id: str) -> bytes:
        return index_key(session, tenant_id, get_settings())

    def opening_key(self, key_id: str, engine: Engine | None) -> tuple[str, bytes]:
        with _cache_lock:
            cached = _by_key_id.get(key_id)
        if cached is not None:
            return cached
        settings = get_settings()
        url = engine.url.render_as_string(hide_password=False) if engine else settings.platform_database_url
        with Session(_reader(url)) as db:
            row: _Wrapped | None = db.scalar(select(TenantKey).where(TenantKey.key_id == key_id))
            row = row or db.scalar(select(RetiredTenantKey).where(RetiredTenantKey.key_id == key_id))
        if row is None:
            raise DecryptionError(f"the data key {key_id} that sealed the value is gone")
        opened = (row.tenant_id, _open(row, MasterKeys.of(settings)))
        with _cache_lock:
            _by_key_id[key_id] = opened
        return opened


install_keyring(SettingsKeyring())  # whoever can reach tenant keys can read and write sealed payloads


# --- blind indexes ------------------------------------------------------------------------------


def _index_aad(tenant_id: str) -> str:
    return f"tenant-index-key|{tenant_id}"


def index_key(db: Session, tenant_id: str, settings: Settings) -> bytes:
    """The tenant's blind-index key: random, wrapped beside its data key (by the same master key and vault
    secret), and apart from it so that rotating the data key leaves the indexes valid. Created on first use
    (caller's transaction)."""
    masters = MasterKeys.of(settings)
    tenant_cipher(db, tenant_id, master_key=masters)  # the key row exists
    row = db.get_one(TenantKey, tenant_id)
    if row.wrapped_index_key is None:
        locked = db.get_one(TenantKey, tenant_id, with_for_update=True, populate_existing=True)
        if locked.wrapped_index_key is None:
            locked.wrapped_index_key = _wrap_index_key(masters.current, locked, os.urandom(32))
        row = locked
    return _open_index_key(row, masters)


def _wrap_index_key(master_key: str, row: TenantKey, index: bytes) -> str:
    return seal(_kek(master_key, row.tenant_id, _vault_secret(row)), _b64(index), aad=_index_aad(row.tenant_id))


def _open_index_key(row: TenantKey, masters: MasterKeys) -> bytes:
    wrapped = row.wrapped_index_key or ""
    with _cache_lock:
        cached = _opened.get((row.tenant_id, wrapped, masters))
    if cached is not None:
        return cached
    secret = _vault_secret(row)
    for master_key in masters.candidates(None):  # made with whichever key was current then
        try:
            key = _unb64(unseal(_kek(master_key, row.tenant_id, secret), wrapped, aad=_index_aad(row.tenant_id)))
        except DecryptionError:
            continue
        with _cache_lock:
            _opened[(row.tenant_id, wrapped, masters)] = key
        return key
    raise DecryptionError(f"tenant {row.tenant_id}'s index key does not open with the configured master keys")


# --- rotation -----------------------------------------------------------------------------------


def rotate_data_key(db: Session, tenant_id: str, *, master_key: str | MasterKeys) -> str:
    """Give the tenant a new data key, in the caller's transaction; the one it replaces is kept as retired
    (values it sealed still open) until `drop_retired_keys`. Returns the new key's id. A key wrapped before
    the vault is replaced by a vaulted one (its index key is wrapped again with the vault secret too)."""
    masters = _masters(master_key)
    tenant_cipher(db, tenant_id, master_key=masters)  # makes the first key if there is none yet
    row = db.get_one(TenantKey, tenant_id, with_for_update=True, populate_existing=True)
    db.add(
        RetiredTenantKey(
            tenant_id=tenant_id,
            key_id=row.key_id,
            wrapped_key=row.wrapped_key,
            master_key_id=row.master_key_id,
            vaulted=row.vaulted,
        )
    )
    index = _open_index_key(row, masters) if row.wrapped_index_key else None
    secret = _vault().create(tenant_id)
    row.key_id, row.vaulted = _new_key_id(), True
    row.wrapped_key, row.master_key_id = _wrap(masters.current, tenant_id, os.urandom(32), secret), masters.current_id
    if index is not None:
        row.wrapped_index_key = _wrap_index_key(masters.current, row, index)
    forget_tenant_keys(tenant_id)
    return row.key_id


def drop_retired_keys(db: Session, tenant_id: str) -> int:
    """Forget the tenant's retired data keys (everything they sealed was sealed again); the caller commits."""
    result = db.execute(delete(RetiredTenantKey).where(RetiredTenantKey.tenant_id == tenant_id))
    return int(getattr(result, "rowcount", 0) or 0)


def rewrap_data_keys(
    db: Session, masters: MasterKeys, *, on_progress: Callable[[int, int], None] | None = None, batch: int = 200
) -> int:
    """Re-wrap with the current master key every data key (current and retired, of every tenant) that a
    previous one wrapped, or that was wrapped before master keys had ids, committing each batch so that an
    interrupted run resumes where it stopped. Returns how many."""
    previous_ids = [master_key_id(key) for key in masters.previous]
    total = len(_stale_keys(db, TenantKey, previous_ids)) + len(_stale_keys(db, RetiredTenantKey, previous_ids))
    progress = on_progress or (lambda done, total: None)
    done = _rewrap(db, TenantKey, masters, previous_ids, lambda n: progress(n, total), batch)
    return done + _rewrap(db, RetiredTenantKey, masters, previous_ids, lambda n: progress(done + n, total), batch)


def _rewrap(
    db: Session,
    model: type[WrappedKey],
    masters: MasterKeys,
    previous_ids: list[str],
    on_progress: Callable[[int], None],
    batch: int,
) -> int:
    done = 0
    while rows := _stale_keys(db, model, previous_ids, limit=batch):
        for row in rows:
            if isinstance(row, TenantKey) and row.wrapped_index_key:
                row.wrapped_index_key = _wrap_index_key(masters.current, row, _open_index_key(row, masters))
            row.wrapped_key = _wrap(masters.current, row.tenant_id, _open(row, masters), _vault_secret(row))
            row.master_key_id = masters.current_id
        db.commit()
        done += len(rows)
        on_progress(done)
    return done


WrappedKey = TypeVar("WrappedKey", TenantKey, RetiredTenantKey)


def _stale_keys(
    db: Session, model: type[WrappedKey], previous_ids: list[str], *, limit: int | None = None
) -> Sequence[WrappedKey]:
    """Data keys wrapped by one of `previous_ids`, or before master keys had ids."""
    stale = or_(model.master_key_id.is_(None), model.master_key_id.in_(previous_ids))
    return db.scalars(select(model).where(stale).limit(limit)).all()


def data_keys_not_wrapped_by(db: Session, masters: MasterKeys) -> int:
    """How many data keys the current master key did not wrap (after a rotation: those no configured key opens)."""
    return sum(
        len(db.scalars(select(model.tenant_id).where(model.master_key_id.is_distinct_from(masters.current_id))).all())
        for model in (TenantKey, RetiredTenantKey)
    )
