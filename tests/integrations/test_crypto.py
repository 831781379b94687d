"""AES-256-GCM envelope encryption: per-tenant data keys wrapped by the master key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from blocks.crypto import DecryptionError, is_sealed, tenant_cipher
from core.settings import PLACEHOLDER_MASTER_KEY
from store import TenantKey


def test_seal_and_open_bound_to_tenant_and_place(acme, globex):
    token = acme.cipher.seal("SG.secret-value", context="t-acme-sendgrid-main:api_key")
    assert is_sealed(token) and "secret" not in token
    assert acme.cipher.unseal(token, context="t-acme-sendgrid-main:api_key") == "SG.secret-value"
    assert token != acme.cipher.seal("SG.secret-value", context="t-acme-sendgrid-main:api_key")  # fresh nonce
    with pytest.raises(DecryptionError):
        acme.cipher.unseal(token, context="t-acme-sendgrid-other:api_key")  # moved to another field
    with pytest.raises(DecryptionError):
        globex.cipher.unseal(token, context="t-acme-sendgrid-main:api_key")  # another tenant's key
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        acme.cipher.unseal(tampered, context="t-acme-sendgrid-main:api_key")
    assert "key" not in repr(acme.cipher).lower().replace("tenantcipher", "")


def test_data_key_is_stored_wrapped_and_needs_the_master_key(acme):
    with acme.sessions()() as db:
        wrapped = db.scalar(select(TenantKey.wrapped_key).where(TenantKey.tenant_id == acme.id))
        assert is_sealed(wrapped) and acme.cipher.key.hex() not in wrapped
        assert tenant_cipher(db, acme.id, master_key=PLACEHOLDER_MASTER_KEY).key == acme.cipher.key  # stable
        with pytest.raises(DecryptionError):
            tenant_cipher(db, acme.id, master_key="another master key")
