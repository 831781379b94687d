"""What every integration shares: the action declaration and the Block base class (failures: core.errors).

A block's SecretStr fields never hold plaintext once saved: they hold AES-256-GCM ciphertext sealed
with the tenant's data key (blocks.crypto), bound to the block's name and the field. `reveal()`
opens one inside the task that needs it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from prefect.blocks.core import Block
from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr, model_validator

from blocks.crypto import TenantCipher
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

    _cipher: TenantCipher | None = PrivateAttr(default=None)
    _sealed_as: str = PrivateAttr(default="")
    _connection_id: str = PrivateAttr(default="")

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, info in cls.model_fields.items() if _is_secret(info.annotation)]

    @classmethod
    def config_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in cls.secret_fields()]

    def attach(self, cipher: TenantCipher, block_name: str, connection_id: str = "") -> IntegrationBlock:
        """Bind the tenant's cipher; `block_name` is part of every secret's associated data."""
        self._cipher, self._sealed_as, self._connection_id = cipher, block_name, connection_id
        return self

    @property
    def connection_id(self) -> str:
        return self._connection_id

    def reveal(self, name: str) -> str | None:
        """A secret in clear: call it where it is used, inside the task, and keep it nowhere."""
        value: SecretStr | None = getattr(self, name)
        if value is None or value.get_secret_value() == "":
            return None
        return self._require_cipher().unseal(value.get_secret_value(), context=f"{self._sealed_as}:{name}")

    def set_secret(self, name: str, plaintext: str | None) -> None:
        sealed = (
            None if plaintext is None else self._require_cipher().seal(plaintext, context=f"{self._sealed_as}:{name}")
        )
        setattr(self, name, None if sealed is None else SecretStr(sealed))

    def _require_cipher(self) -> TenantCipher:
        if self._cipher is None:
            raise RuntimeError("block has no tenant cipher attached; load it through blocks.connections")
        return self._cipher

    async def test_connection(self) -> str:
        """Checks the credentials against the service: returns what was found, or raises StepFailure."""
        raise NotImplementedError


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())
