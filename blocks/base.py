"""What every integration shares: the action declaration and the Block base class (failures: core.errors).

A block's SecretStr fields never hold plaintext once saved: they hold AES-256-GCM ciphertext sealed
with the tenant's data key (blocks.crypto), bound to the block's name and the field. `reveal()`
opens one inside the task that needs it.

The rest of the stored block is authenticated too: `settings_mac` is a MAC (keyed from the tenant's data
key) over its settings, any other stored field and its sealed secrets, so a block edited in Prefect
(repointed to another host, a secret swapped in from another field) opens nothing until it is saved again
in Flowyard. Blocks saved before settings were authenticated have
none; they keep working while their URL settings equal those Flowyard recorded in the platform database,
and Flowyard's next save authenticates them.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from prefect.blocks.core import Block
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from blocks.crypto import DecryptionError, TenantCipher
from core.errors import Permanent
from store import ExecutionMode

# The SDKs log request headers at DEBUG (python_http_client includes the API key): never let them.
for _name in ("python_http_client", "twilio.http_client"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class ActionContext:
    """Where an action runs: the same facts as a step's context, without flow_factory."""

    tenant_id: str
    execution_id: str
    node_id: str
    mode: str  # an ExecutionMode
    logger: logging.Logger | logging.LoggerAdapter[Any] = field(default=logging.getLogger("flowyard.blocks"))

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of one step of one execution, so a retry is never a repeat."""
        return f"{self.execution_id}-{self.node_id}"

    @property
    def test_mode(self) -> bool:
        return self.mode == ExecutionMode.TEST


class ActionInput(BaseModel):
    """Base of action inputs: unknown fields are refused, numbers become text where text is expected,
    and a required field that a template rendered empty is named before any call is made."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _required_not_empty(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for name, info in cls.model_fields.items():
                if info.is_required() and values.get(name) in (None, "", [], {}):
                    raise ValueError(f"required field '{name}' is empty: map it from the trigger or an earlier step")
        return values


INTEGRATIONS = "Integrations"  # the builder's palette group of the integrations' actions
ActionRun = Callable[[Any, Any, ActionContext], Awaitable[dict[str, Any]]]  # (block or None, input, ctx)


class FixedField(NamedTuple):
    """An input field whose value is fixed when the workflow is saved: a template there is refused."""

    name: str
    message: str
    hint: str


@dataclass(frozen=True)
class Action:
    """One typed action of an integration; flow_factory serves it as the node type `node_type`."""

    node_type: str  # e.g. "email.sendgrid"
    label: str
    description: str
    integration: str  # the block slug (connection type), or "crm"
    input_model: type[ActionInput]
    output_model: type[BaseModel]
    sample_output: dict[str, Any]
    run: ActionRun
    # The step must name a connection (flow_factory adds `connection` to its config). An input model may
    # instead declare an optional `connection` of its own (http.request): it is loaded when given.
    needs_connection: bool = True
    side_effect: bool = True  # recorded in the idempotency ledger: a retry returns the first result
    effect: str | None = None  # what a run changes outside Flowyard ("email", "SMS"...), named before a replay
    category: str = INTEGRATIONS  # the general HTTP step is listed with the built-in "Actions"
    known_output: bool = False  # the output has exactly output_model's fields, so references to it are checked
    fixed_fields: tuple[FixedField, ...] = ()

    @property
    def takes_connection(self) -> bool:
        """Whether a step's config may name a connection (of type `integration`)."""
        return self.needs_connection or "connection" in self.input_model.model_fields

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()


DOCS_ROOT = "https://docs.flowyard.dev/integrations/"
SETTINGS_MAC = "settings_mac"  # the field holding the MAC: neither a setting nor a secret
BOUND = ":authenticated"  # ends a secret's associated data in an authenticated block (older blocks: none)


def is_destination(name: str) -> bool:
    """Whether a setting decides where the block's secrets are sent (instance_url, base_url, token_url)."""
    return name.endswith("url")


def settings_changed(label: str) -> Permanent:
    return Permanent(
        f"The stored settings of connection '{label}' were changed outside Flowyard, so its secrets were not used.",
        hint="Open it in Settings → Connections and save it again.",
    )


class IntegrationBlock(Block):
    """Base of the integration blocks. Subclasses set `slug` (never changes) and `label`, say in their
    docstring what they hold, set `actions` and implement `test_connection`; the Prefect block type
    metadata is derived from these when the subclass is defined."""

    slug: ClassVar[str]  # the connection type, e.g. "sendgrid"
    label: ClassVar[str]  # the service's name as people say it, e.g. "SendGrid"
    actions: ClassVar[tuple[Action, ...]] = ()
    oauth_spec: ClassVar[Any] = None  # blocks.oauth.OAuthSpec for networks that connect through OAuth

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Runs before pydantic completes the class and Prefect registers it under its block type slug.
        super().__init_subclass__(**kwargs)
        cls._block_type_name = f"Flowyard {cls.label}"
        cls._block_type_slug = f"flowyard-{cls.slug}"
        cls._documentation_url = DOCS_ROOT + cls.slug  # type: ignore[assignment]  # Prefect types it HttpUrl, takes text
        summary = (inspect.getdoc(cls) or cls.label).split("\n\n")[0].replace("\n", " ")
        cls._description = f"{summary} Held for one Flowyard tenant, its secrets sealed with the tenant's data key."

    settings_mac: str | None = Field(
        default=None,
        description="Set by Flowyard: authenticates every other field with the tenant's key. A block edited "
        "outside Flowyard is refused until it is saved again in Flowyard.",
    )

    _cipher: TenantCipher | None = PrivateAttr(default=None)
    _sealed_as: str = PrivateAttr(default="")
    _connection_id: str = PrivateAttr(default="")
    _recorded: dict[str, Any] = PrivateAttr(default_factory=dict)
    _label: str = PrivateAttr(default="")
    _verified: bool = PrivateAttr(default=False)  # checked since loaded: later changes are Flowyard's own

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, info in cls.model_fields.items() if _is_secret(info.annotation)]

    @classmethod
    def config_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in cls.secret_fields() and name != SETTINGS_MAC]

    @classmethod
    def destination_fields(cls) -> list[str]:
        """The settings that decide where the secrets are sent."""
        return [name for name in cls.config_fields() if is_destination(name)]

    @classmethod
    def secret_context(cls, block_name: str, name: str) -> str:
        """Where a secret of an authenticated block is stored: the associated data it is sealed with."""
        return f"{block_name}:{name}{BOUND}"

    def setting_values(self, names: list[str] | None = None) -> dict[str, Any]:
        """The named settings (all of them by default) as JSON values: what the platform database records.
        Not `model_dump(include=...)`, which dumps every field, Prefect's too, when `include` is empty."""
        wanted = self.config_fields() if names is None else names
        return {name: value for name, value in self.model_dump(mode="json").items() if name in wanted}

    def attach(
        self,
        cipher: TenantCipher,
        block_name: str,
        connection_id: str = "",
        *,
        recorded: dict[str, Any] | None = None,
        label: str = "",
    ) -> IntegrationBlock:
        """Bind the tenant's cipher; `block_name` is part of every secret's associated data. `recorded`
        is the settings Flowyard saved in the platform database (they vouch for a block without a MAC)."""
        if (cipher, block_name) != (self._cipher, self._sealed_as):
            self._verified = False
        self._cipher, self._sealed_as, self._connection_id = cipher, block_name, connection_id
        self._recorded, self._label = dict(recorded or {}), label or block_name
        return self

    @property
    def connection_id(self) -> str:
        return self._connection_id

    def reveal(self, name: str) -> str | None:
        """A secret in clear: call it where it is used, inside the task, and keep it nowhere. Refused
        (Permanent) when the stored block was changed outside Flowyard."""
        self.verify_settings()
        value: SecretStr | None = getattr(self, name)
        if value is None or value.get_secret_value() == "":
            return None
        return self._require_cipher().unseal(value.get_secret_value(), context=self._context(name))

    def set_secret(self, name: str, plaintext: str | None) -> None:
        sealed = None if plaintext is None else self._require_cipher().seal(plaintext, context=self._context(name))
        setattr(self, name, None if sealed is None else SecretStr(sealed))

    # --- the authenticated settings ---------------------------------------------------------------

    def verify_settings(self) -> None:
        """Raise the Permanent failure `settings_changed` unless the block was loaded as Flowyard saved it.
        Checked once per loaded block: what Flowyard changes in it afterwards (a refreshed token) is its own."""
        if self._verified:
            return
        if not self.settings_intact():
            raise settings_changed(self._label or self._sealed_as)
        self._verified = True

    def settings_intact(self) -> bool:
        cipher = self._require_cipher()
        if self.settings_mac is not None:
            return cipher.mac_matches(self.settings_mac, self._canonical(), context=self._sealed_as)
        return self._older_block_intact()

    def seal_settings(self) -> None:
        """Authenticate the block as it is: for a block Flowyard just built, its secrets sealed in
        `secret_context` (a loaded block goes through `reseal`)."""
        self.settings_mac = self._require_cipher().mac(self._canonical(), context=self._sealed_as)
        self._verified = True

    def restore_settings(self) -> None:
        """Before Flowyard saves a loaded block: settings changed outside Flowyard are put back as
        Flowyard recorded them in the platform database (then `reseal`)."""
        if not self.settings_intact():
            self._restore_recorded()

    def reseal(self) -> list[str]:
        """Before Flowyard saves a block it loaded (and checked or restored): every secret is sealed again
        as an authenticated block's, and the MAC is computed. Returns the secrets that did not open
        (they are dropped: they must be entered again)."""
        lost = []
        for name in self.secret_fields():
            plaintext = self._open_either(name)
            stored: SecretStr | None = getattr(self, name)
            if plaintext is None and stored is not None and stored.get_secret_value():
                lost.append(name)
            sealed = None if plaintext is None else self._require_cipher().seal(plaintext, context=self._bound(name))
            setattr(self, name, None if sealed is None else SecretStr(sealed))
        self.seal_settings()
        return lost

    def _restore_recorded(self) -> None:
        """Put back the settings Flowyard recorded; one it did not record is emptied where it may be."""
        for name in self.config_fields():
            info = type(self).model_fields[name]
            annotation: Any = info.annotation
            try:
                value = TypeAdapter(annotation).validate_python(self._recorded.get(name))
            except ValidationError:
                if info.is_required():
                    continue  # the block cannot be valid without it: it keeps the stored value
                value = info.get_default(call_default_factory=True)
            setattr(self, name, value)
        for name in [k for k in self.model_extra or {} if k != "block_type_slug"]:
            self.model_extra.pop(name)  # type: ignore[union-attr]  # listed from it

    def _canonical(self) -> str:
        """Everything stored but the MAC, in one canonical text."""
        secrets = {name: getattr(self, name) for name in self.secret_fields()}
        return json.dumps(
            {
                "type": self.slug,
                "block": self._sealed_as,
                "settings": self.setting_values(),
                "other": {k: v for k, v in (self.model_extra or {}).items() if k != "block_type_slug"},
                "secrets": {
                    name: None if value is None else value.get_secret_value() for name, value in secrets.items()
                },
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )

    def _older_block_intact(self) -> bool:
        """A block saved before settings were authenticated: its URL settings must be those Flowyard
        recorded, and its secrets must be sealed as an older block's (not an authenticated one's)."""
        if any(self._moved(name, value) for name, value in self.setting_values(self.destination_fields()).items()):
            return False
        return all(self._opens(name, self._older(name)) for name in self.secret_fields())

    def _moved(self, name: str, value: Any) -> bool:
        """Whether a destination differs from the one recorded; one not recorded (added to the type after
        the block was saved) must be empty. A record without settings (written by hand) vouches for none."""
        if name in self._recorded:
            return bool(value != self._recorded[name])
        return bool(self._recorded) and value not in (None, "")

    def _opens(self, name: str, context: str) -> bool:
        value: SecretStr | None = getattr(self, name)
        if value is None or value.get_secret_value() == "":
            return True
        try:
            self._require_cipher().unseal(value.get_secret_value(), context=context)
        except DecryptionError:
            return False
        return True

    def _open_either(self, name: str) -> str | None:
        """A secret in clear, sealed either way (only for `reseal`, whose settings are trusted)."""
        value: SecretStr | None = getattr(self, name)
        if value is None or value.get_secret_value() == "":
            return None
        for context in (self._bound(name), self._older(name)):
            try:
                return self._require_cipher().unseal(value.get_secret_value(), context=context)
            except DecryptionError:
                continue
        return None

    def _context(self, name: str) -> str:
        return self._bound(name) if self.settings_mac is not None else self._older(name)

    def _bound(self, name: str) -> str:
        return self.secret_context(self._sealed_as, name)

    def _older(self, name: str) -> str:
        return f"{self._sealed_as}:{name}"

    def _require_cipher(self) -> TenantCipher:
        if self._cipher is None:
            raise RuntimeError("block has no tenant cipher attached; load it through blocks.connections")
        return self._cipher

    async def test_connection(self) -> str:
        """Checks the credentials against the service: returns what was found, or raises StepFailure."""
        raise NotImplementedError


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())
