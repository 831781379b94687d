"""AES-256-GCM envelope encryption.

Each tenant has a random 256-bit data key. It is stored only wrapped (AES-256-GCM) by a key derived
from FLOWYARD_MASTER_KEY, in `tenant_keys`. Secrets are sealed with the data key, bound (as GCM
associated data) to the tenant and to where they are stored, so a ciphertext copied to another
tenant or another field does not open. A block's settings are authenticated with a MAC under a key
derived from the same data key (`TenantCipher.mac`), so they cannot be changed where they are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import TenantKey

PREFIX = "fy1."
MAC_PREFIX = "fym1."
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A sealed value did not open: wrong key (master key changed?) or tampered ciphertext."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, plaintext: str, *, aad: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return PREFIX + _b64(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode()))


def unseal(key: bytes, token: str, *, aad: str) -> str:
    if not is_sealed(token):
        raise DecryptionError("the value is not sealed")
    raw = _unb64(token[len(PREFIX) :])
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("the value does not open with this key") from exc


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


@lru_cache(maxsize=4)
def master_kek(master_key: str) -> bytes:
    """The key-encryption key: HKDF-SHA256 of the configured master key (any length, any text)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowyard", info=b"master-kek-v1").derive(
        master_key.encode()
    )


@dataclass(frozen=True)
class TenantCipher:
    """Seals and opens one tenant's secrets; `context` says where the value is stored."""

    tenant_id: str
    key: bytes

    def seal(self, plaintext: str, *, context: str) -> str:
        return seal(self.key, plaintext, aad=f"{self.tenant_id}|{context}")

    def unseal(self, token: str, *, context: str) -> str:
        return unseal(self.key, token, aad=f"{self.tenant_id}|{context}")

    def mac(self, message: str, *, context: str) -> str:
        """An HMAC-SHA256 of `message` under a key derived from the data key (never the data key itself)."""
        data = f"{self.tenant_id}|{context}|{message}".encode()
        return MAC_PREFIX + _b64(hmac.new(_mac_key(self.key), data, hashlib.sha256).digest())

    def mac_matches(self, tag: str, message: str, *, context: str) -> bool:
        return hmac.compare_digest(tag.encode(), self.mac(message, context=context).encode())

    def __repr__(self) -> str:  # never print the key
        return f"TenantCipher(tenant_id={self.tenant_id!r})"


@lru_cache(maxsize=1024)
def _mac_key(data_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowyard", info=b"settings-mac-v1").derive(data_key)


def _wrap_aad(tenant_id: str) -> str:
    return f"tenant-data-key|{tenant_id}"


@lru_cache(maxsize=1024)
def _unwrap(master_key: str, tenant_id: str, wrapped: str) -> bytes:
    return _unb64(unseal(master_kek(master_key), wrapped, aad=_wrap_aad(tenant_id)))


def tenant_cipher(db: Session, tenant_id: str, *, master_key: str) -> TenantCipher:
    """The tenant's cipher; creates its data key on first use, in the caller's transaction (a second
    session would wait forever for the caller's SQLite write lock)."""
    wrapped = db.get(TenantKey, tenant_id)
    if wrapped is None:
        key = os.urandom(32)
        row = TenantKey(
            tenant_id=tenant_id, wrapped_key=seal(master_kek(master_key), _b64(key), aad=_wrap_aad(tenant_id))
        )
        try:
            with db.begin_nested():
                db.add(row)
        except IntegrityError:  # created concurrently: use that one
            pass
        wrapped = db.get(TenantKey, tenant_id, populate_existing=True)
        if wrapped is None:
            raise RuntimeError(f"tenant {tenant_id}'s data key was neither created nor found")
    return TenantCipher(tenant_id, _unwrap(master_key, tenant_id, wrapped.wrapped_key))
