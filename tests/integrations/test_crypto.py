"""AES-256-GCM envelope encryption: per-tenant data keys wrapped by the master key; a block's stored settings
authenticated with a MAC from the same key."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from blocks import connections
from blocks.base import IntegrationBlock
from blocks.crypto import DecryptionError, is_sealed, tenant_cipher
from blocks.execute import run_action
from blocks.mastodon import POST_STATUS, MastodonConnection, StatusInput
from blocks.sql import SqlConnection
from blocks.twilio import TwilioConnection
from core.errors import Permanent
from core.settings import get_settings
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
        master_key = get_settings().master_key.get_secret_value()
        assert tenant_cipher(db, acme.id, master_key=master_key).key == acme.cipher.key  # stable
        with pytest.raises(DecryptionError):
            tenant_cipher(db, acme.id, master_key="another master key")


# --- the stored block is authenticated: settings, secrets and all --------------------------------


def test_settings_mac_is_bound_to_tenant_and_place(acme, globex):
    tag = acme.cipher.mac('{"from_email":"a@acme.com"}', context="t-acme-sendgrid-main")
    assert tag == acme.cipher.mac('{"from_email":"a@acme.com"}', context="t-acme-sendgrid-main")  # canonical
    assert acme.cipher.mac_matches(tag, '{"from_email":"a@acme.com"}', context="t-acme-sendgrid-main")
    assert not acme.cipher.mac_matches(tag, '{"from_email":"m@evil.com"}', context="t-acme-sendgrid-main")
    assert not acme.cipher.mac_matches(tag, '{"from_email":"a@acme.com"}', context="t-acme-sendgrid-other")
    assert not globex.cipher.mac_matches(tag, '{"from_email":"a@acme.com"}', context="t-acme-sendgrid-main")


def _saved(tenant, block_type: type[IntegrationBlock], *, secrets: dict[str, str], **config: Any):
    """A block as the API saves it (secrets sealed for an authenticated block, then its MAC), the block
    document's data as Prefect stores it, and the settings the platform database records."""
    name = connections.block_name(tenant.slug, block_type.slug, "main")
    sealed = {
        k: SecretStr(tenant.cipher.seal(v, context=block_type.secret_context(name, k))) for k, v in secrets.items()
    }
    block = block_type(**config, **sealed)
    block.attach(tenant.cipher, name).seal_settings()
    recorded = block.setting_values()
    return name, block.model_dump(mode="json", context={"include_secrets": True}), recorded


def _loaded(tenant, block_type, name: str, data: dict, recorded: dict) -> IntegrationBlock:
    return block_type.model_validate(copy.deepcopy(data)).attach(tenant.cipher, name, recorded=recorded, label="Main")


def test_a_block_edited_outside_flowyard_opens_nothing_until_flowyard_saves_it_again(acme):
    name, data, recorded = _saved(
        acme, MastodonConnection, secrets={"access_token": "tok-1"}, instance_url="https://social.example"
    )
    assert _loaded(acme, MastodonConnection, name, data, recorded).reveal("access_token") == "tok-1"

    edits = {
        "repointed": {**data, "instance_url": "https://attacker.example"},
        "extra field": {**data, "proxy": "http://attacker.example"},
        "MAC removed": {**data, "settings_mac": None},
        "MAC of another block": {**data, "settings_mac": acme.cipher.mac("{}", context=name)},
    }
    for why, edited in edits.items():
        block = _loaded(acme, MastodonConnection, name, edited, recorded)
        with pytest.raises(Permanent) as refused:
            block.reveal("access_token")
        assert refused.value.message == (
            "The stored settings of connection 'Main' were changed outside Flowyard, so its secrets were not used."
        ), why
        assert refused.value.hint == "Open it in Settings → Connections and save it again."

    # Saving through Flowyard puts back what it recorded and authenticates the block again.
    block = _loaded(acme, MastodonConnection, name, edits["repointed"], recorded)
    block.restore_settings()
    assert block.reseal() == []
    again = _loaded(
        acme, MastodonConnection, name, block.model_dump(mode="json", context={"include_secrets": True}), recorded
    )
    assert again.instance_url == "https://social.example" and again.reveal("access_token") == "tok-1"


def test_a_block_whose_only_setting_is_secret_opens_as_prefect_loads_it(acme):
    """An sql connection keeps everything in its sealed URL; what Prefect sets on a loaded block (its
    document id and name) is not a setting and does not break the MAC."""
    name, data, recorded = _saved(acme, SqlConnection, secrets={"url": "postgresql://shop:pw@db.example/shop"})
    assert recorded == {}
    loaded = _loaded(acme, SqlConnection, name, data, recorded)
    loaded._block_document_id, loaded._block_document_name = uuid.uuid4(), name
    assert loaded.reveal("url") == "postgresql://shop:pw@db.example/shop"


def test_a_secret_swapped_in_from_another_field_or_tenant_is_refused(acme, globex):
    name, data, recorded = _saved(
        acme,
        TwilioConnection,
        secrets={"auth_token": "live", "test_auth_token": "test"},
        account_sid="AC" + "1" * 32,
        from_number="+14155550100",
    )
    swapped = {**data, "auth_token": data["test_auth_token"]}
    with pytest.raises(Permanent):
        _loaded(acme, TwilioConnection, name, swapped, recorded).reveal("auth_token")
    with pytest.raises(Permanent):  # another tenant's key does not vouch for it
        _loaded(globex, TwilioConnection, name, data, recorded).reveal("auth_token")


def test_blocks_saved_before_settings_were_authenticated_keep_working_while_their_urls_are_unchanged(acme):
    """No MAC: the URL settings must be those the platform database recorded; Flowyard's next save adds the MAC."""
    name = connections.block_name(acme.slug, "mastodon", "old")
    older = MastodonConnection(
        instance_url="https://social.example",
        access_token=SecretStr(acme.cipher.seal("tok", context=f"{name}:access_token")),
    )
    data = older.model_dump(mode="json", context={"include_secrets": True})
    recorded = {"instance_url": "https://social.example"}
    assert _loaded(acme, MastodonConnection, name, data, recorded).reveal("access_token") == "tok"
    with pytest.raises(Permanent):
        _loaded(acme, MastodonConnection, name, {**data, "instance_url": "https://attacker.example"}, recorded).reveal(
            "access_token"
        )

    block = _loaded(acme, MastodonConnection, name, data, recorded)
    assert block.reseal() == [] and block.settings_mac is not None
    upgraded = block.model_dump(mode="json", context={"include_secrets": True})
    assert _loaded(acme, MastodonConnection, name, upgraded, recorded).reveal("access_token") == "tok"
    with pytest.raises(Permanent):  # its secrets are now sealed as an authenticated block's: no way back
        _loaded(acme, MastodonConnection, name, {**upgraded, "settings_mac": None}, recorded).reveal("access_token")


async def test_a_step_on_an_edited_connection_fails_and_sends_nothing(acme, fake_services):
    token = fake_services.mastodon.add_token(f"acct{uuid.uuid4().hex[:6]}")
    block = acme.connection(
        MastodonConnection, "Fedi", secrets={"access_token": token}, instance_url=fake_services.mastodon.url
    )
    block.reseal()  # as Flowyard's save leaves it: authenticated
    block.instance_url = "http://127.0.0.1:9"  # then edited where it is stored
    block._verified = False  # as loaded again from Prefect
    with pytest.raises(Permanent) as refused:
        await run_action(POST_STATUS, acme.ctx(), block.connection_id, StatusInput(status="hello"))
    assert "changed outside Flowyard" in refused.value.message
