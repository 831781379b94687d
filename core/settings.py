"""All of Flowyard's settings, read from `FLOWYARD_...` environment variables.

Nested groups use a double underscore: `FLOWYARD_API__PORT=8080`.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLACEHOLDER_MASTER_KEY = "flowyard-development-master-key-change-me"
MAKE_MASTER_KEY = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'


def is_strong_master_key(value: str) -> bool:
    """Whether a master key is 32 bytes, base64-encoded (what production requires)."""
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the platform API listens on.")
    port: int = Field(8000, description="Port of the platform API and the builder UI.")
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted; larger ones get 413.")
    max_in_flight: int = Field(
        256, ge=1, description="Requests to /api/ and /hooks/ in progress in one API process before new ones get 429."
    )
    max_in_flight_per_tenant: int = Field(
        64, ge=1, description="Of those, how many one workspace may have in progress before its new ones get 429."
    )
    shed_retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a request refused for load.")
    keep_alive_seconds: int = Field(
        75,
        ge=1,
        description="How long the API keeps an idle HTTP connection open. Keep it above the idle timeout of "
        "any proxy or client in front: a request sent just as the server closes the connection is reset.",
    )
    respond_timeout_seconds: float = Field(
        30,
        gt=0,
        le=300,
        description="How long a webhook set to respond when done (or POST .../runs?wait=) waits for the run's "
        "answer before answering 202 with the run id; the run goes on.",
    )
    signup_enabled: bool = Field(True, description="Whether POST /api/v1/signup may create new tenants.")
    session_ttl_hours: int = Field(24 * 7, description="How long a login token stays valid, in hours.")
    login_throttle_minutes: int = Field(
        15, ge=1, le=1440, description="Window in which failed logins are counted for throttling, in minutes."
    )
    login_failures_per_account: int = Field(
        10, ge=1, description="Failed logins to one account within the window before its logins answer 429."
    )
    login_failures_per_address: int = Field(
        100, ge=1, description="Failed logins from one client address within the window before its logins answer 429."
    )
    reset_requests_per_account: int = Field(
        3, ge=1, description="Password-reset requests for one email within the login window before they answer 429."
    )
    reset_requests_per_address: int = Field(
        20, ge=1, description="Password-reset requests from one client address within the login window before 429."
    )
    public_url: str | None = Field(
        None, description="URL users reach the API at; defaults to http://host:port, https:// with a TLS_CERT."
    )
    tls_cert: Path | None = Field(
        None,
        description="PEM certificate (chain) `flowyard up` serves the API and the builder with, over HTTPS only "
        "and with HSTS; set with FLOWYARD_API__TLS_KEY. Unset: plain HTTP (TLS ends at a proxy or Ingress).",
    )
    tls_key: Path | None = Field(None, description="PEM private key (unencrypted) of FLOWYARD_API__TLS_CERT.")
    tenant_role: bool = Field(
        True,
        description="On PostgreSQL, run an authenticated request's transactions as the flowyard_tenant role, "
        "so row-level security shows only the caller's rows; turn off only where that role cannot be created.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token GET /metrics asks for; unset, /metrics is open (keep it off the internet)."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "FLOWYARD_API__TLS_CERT and FLOWYARD_API__TLS_KEY go together: set both to serve HTTPS, or neither"
            )
        if self.tls_cert and self.public_url and not self.public_url.startswith("https://"):
            raise ValueError("FLOWYARD_API__PUBLIC_URL must be an https:// URL when FLOWYARD_API__TLS_CERT is set")
        return self


class PrefectSettings(BaseModel):
    port: int = Field(4200, description="Port of the local Prefect server (API and UI) started by `flowyard up`.")
    api_url: str | None = Field(
        None, description="Prefect API URL; defaults to the local server at http://127.0.0.1:<port>/api."
    )
    database_url: str | None = Field(
        None,
        description="Database of the local Prefect server (SQLAlchemy async URL); "
        "defaults to SQLite under FLOWYARD_HOME/prefect.",
    )
    start_server: bool = Field(True, description="Whether `flowyard up` starts a local Prefect server.")
    sqlite_memory_mb: int = Field(
        64,
        ge=0,
        description="Bound on the SQLite memory (page caches) of the local Prefect server when its database is "
        "SQLite, in MB; 0 for Prefect's own (80 MB of cache per connection, so RSS grows with the database).",
    )
    internal_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (JSON list) production may reach the Prefect API at over plain http, because they are "
        'reached only inside the cluster, e.g. ["prefect-server.flowyard.svc"]; any other host needs https.',
    )
    auth_string: SecretStr | None = Field(
        None,
        description="Prefect API auth string (`user:password`, HTTP Basic) the Prefect server requires and every "
        "Flowyard process sends; defaults to PREFECT_API_AUTH_STRING, else `flowyard up` generates one in "
        "FLOWYARD_HOME/secrets. Required in production.",
    )
    encryption_key: SecretStr | None = Field(
        None,
        description="Fernet key the local Prefect server encrypts block documents (connection secrets) with; "
        "`flowyard up` generates one in FLOWYARD_HOME/secrets when unset. Never change it: stored blocks "
        "would become unreadable.",
    )


class WorkerSettings(BaseModel):
    work_pool: str = Field("flowyard", description="Prefect work pool that runs workflow batches.")
    type: Literal["flowyard", "process"] = Field(
        "flowyard",
        description="Worker `flowyard up` starts: `flowyard` runs many flow runs in one process; `process` is "
        "Prefect's process worker (one subprocess per flow run). Both run the same deployments.",
    )
    poll_seconds: float = Field(
        2.0,
        gt=0,
        description="How often the worker asks Prefect for scheduled flow runs. The dispatcher wakes the "
        "Flowyard worker as soon as it has created flow runs, and scheduled ones are fetched this long ahead, so "
        "this bounds only the pick-up of flow runs created elsewhere (e.g. from the Prefect UI); each poll costs "
        "the Prefect server tens of ms of CPU (it marks every deployment of the pool ready).",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="Most flow runs (batches) one worker runs at once; by default 10 when the Prefect "
        "database is SQLite (one writer: more concurrent runs only queue for its lock), else 50.",
    )
    heartbeat_seconds: int = Field(
        10, ge=1, description="How often the worker tells Prefect it is alive; see dispatcher.missed_heartbeats."
    )
    drain_seconds: float = Field(
        300,
        ge=0,
        description="On SIGTERM, how long the Flowyard worker lets running flow runs finish before it "
        "stops them (they end Crashed; their executions resume on another worker).",
    )
    start: bool = Field(True, description="Whether `flowyard up` starts a worker.")


class DispatcherSettings(BaseModel):
    enabled: bool = Field(True, description="Whether the platform API process runs the dispatcher.")
    batch_size: int = Field(100, ge=1, le=1000, description="Most executions grouped into one Prefect flow run.")
    batch_wait_ms: int = Field(50, ge=0, description="How long a batch may wait to fill under a burst.")
    poll_seconds: float = Field(1.0, gt=0, description="How often the dispatcher looks for queued executions.")
    max_pending_batches: int = Field(
        4,
        ge=1,
        description="Batches of one deployment that may wait for a worker to start them; beyond that, "
        "new executions stay queued and join a larger batch (backpressure instead of a pile of flow runs).",
    )
    batches_per_workflow: int = Field(
        10,
        ge=1,
        description="Prefect concurrency limit of each workflow's deployment: its batches (flow runs) "
        "running at once. Executions are limited by the dispatcher; this bounds the flow runs behind them.",
    )
    batches_per_tenant: int = Field(
        20,
        ge=1,
        description="Concurrency limit of each tenant's Prefect work queue (`t-<tenant>`): the tenant's "
        "batches running at once, over all its workflows, so one tenant's burst cannot take every worker slot.",
    )
    reconcile_seconds: float = Field(
        10,
        gt=0,
        description="How often the dispatcher marks runs of dead Flowyard workers crashed, queues again the "
        "unfinished executions of batches that crashed or failed and ends those of cancelled ones.",
    )
    missed_heartbeats: int = Field(
        6, ge=2, description="Heartbeats a Flowyard worker may miss before its running flow runs are marked crashed."
    )
    rollup_seconds: float = Field(
        2, gt=0, description="How often the dispatcher counts the runs that ended into the reports' rollups."
    )
    watch_seconds: float = Field(30, gt=0, description="How often the dispatcher checks the workspaces' alert rules.")


class ExecutionSettings(BaseModel):
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts per step for retryable failures.")
    retry_base_seconds: float = Field(1.0, ge=0, description="First retry delay; doubles each attempt, with jitter.")
    retry_max_seconds: float = Field(60.0, ge=0, description="Longest delay between two attempts.")
    step_concurrency: int = Field(50, ge=1, description="Executions of one batch that run one step at once.")
    max_resumptions: int = Field(
        3,
        ge=0,
        description="Times an execution whose worker died (its flow run crashed) is queued again to resume from its "
        "stored steps; after that it fails, so a step that kills its worker cannot loop forever.",
    )


class LimitSettings(BaseModel):
    """Bounds on the work one tenant's expressions and schemas may make a process do."""

    regex_timeout_ms: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Longest one search with a tenant's regular expression may take (JSON Schema `pattern`, "
        "`patternProperties`, CEL `matches()`), in ms; a slower one fails the validation or the step.",
    )
    step_cpu_seconds: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Budget of a step's CPU-heavy evaluation (a CEL condition, an output schema check), run "
        "off the worker's event loop; a step that exceeds it fails permanently, naming the expression or field.",
    )
    input_validation_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Budget of checking a run's input or a webhook payload against the trigger's schema in the "
        "API, run off its event loop; beyond it the call gets 422.",
    )
    schema_max_bytes: int = Field(
        65_536,
        ge=1024,
        description="Largest JSON Schema a tenant may save (trigger input, output, template parameters), as JSON.",
    )


class QuotaSettings(BaseModel):
    """What one tenant may use of the shared platform. A tenant's own `tenants.max_running`, or its row in
    `tenant_quotas`, overrides the defaults here."""

    max_running: int | None = Field(
        2000,
        ge=1,
        description="Executions of a tenant in flight at once (batched or running) when the tenant has no "
        "max_running of its own; the rest wait queued. Empty: no limit.",
    )
    max_queued: int = Field(
        10_000,
        ge=1,
        description="Executions a tenant may have accepted and not yet started (queued or batched); beyond it "
        "manual runs, webhooks and events answer 429 with Retry-After. Accepted ones are never dropped.",
    )
    queue_full_retry_after_seconds: int = Field(
        30, ge=1, description="Retry-After of the 429 a trigger gets while its tenant's queue is full."
    )
    webhooks_per_minute: int = Field(
        1000,
        ge=1,
        description="Signed webhook deliveries a tenant may send per minute over all its endpoints, counted in "
        "the platform database so that every API replica shares the count; beyond it 429.",
    )
    events_per_minute: int = Field(
        1000,
        ge=1,
        description="Named events (POST /api/v1/events) a tenant may send per minute, counted in the "
        "platform database (shared by API replicas); beyond it 429.",
    )
    sse_streams: int = Field(
        20,
        ge=1,
        description="Live run-event streams (GET /api/v1/runs/{id}/events) a tenant may hold open at once, "
        "per API process; beyond it 429.",
    )
    claim_per_tenant: int = Field(
        100,
        ge=1,
        description="Queued executions of one tenant the dispatcher looks at per pass (oldest first, tenants in "
        "turn), so that one tenant's backlog, even one held back by a conflict policy or a quota, cannot "
        "keep other tenants' executions waiting.",
    )


class RetentionSettings(BaseModel):
    """How long a workspace's data is kept when the workspace has no policy of its own
    (`PATCH /api/v1/tenant {retention}`), and how the hourly `flowyard-maintenance` flow purges it."""

    run_history_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days an ended run (execution), its steps and the notifications about it are kept.",
    )
    step_payload_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days a run's input and its steps' inputs and outputs, and delivered outbox snapshots, are "
        "kept; after that they are cleared and the run itself stays.",
    )
    log_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days the Prefect flow runs of a workspace (with their task runs and logs) are kept.",
    )
    batch_size: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Most rows one purge statement deletes or clears (Prefect flow runs: at most 50 per call), so "
        "that the hourly purge never holds long locks; it repeats until nothing expired is left.",
    )


DEFAULT_RATE_LIMITS = {"sendgrid": 10.0, "twilio": 5.0, "x": 1.0, "mastodon": 1.0, "http": 20.0, "sql": 20.0}


class IntegrationSettings(BaseModel):
    sendgrid_base_url: str = Field(
        "https://api.sendgrid.com", description="SendGrid API host, without /v3 (a local fake in tests)."
    )
    twilio_base_url: str = Field("https://api.twilio.com", description="Twilio REST API host (a local fake in tests).")
    x_api_base_url: str = Field(
        "https://api.x.com", description="X API host: posts at /2/tweets, tokens at /2/oauth2/token."
    )
    x_authorize_url: str = Field(
        "https://x.com/i/oauth2/authorize", description="Where a user grants Flowyard access to an X account."
    )
    oauth_redirect_url: str | None = Field(
        None,
        description="OAuth callback registered with the networks; defaults to "
        "<api public URL>/api/v1/connections/oauth/callback.",
    )
    timeout_seconds: float = Field(20.0, gt=0, le=300, description="Seconds to wait for a service's answer.")
    rate_limits: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="Requests per second each tenant may make to each integration (by slug: sendgrid, "
        "twilio, x, mastodon, http, sql), enforced with Prefect global rate limits; 0 disables one.",
    )
    sql_allow_sqlite: bool = Field(
        False, description="Allow sqlite:// URLs in SQL connections (files on the worker); for development only."
    )


class EgressSettings(BaseModel):
    allow: list[str] = Field(
        default_factory=list,
        description="Internal hosts workflow steps may reach (HTTP steps, connections, token URLs, Mastodon "
        "instances, SQL hosts), as a JSON list of CIDRs (any port) and host:port entries, e.g. "
        '["10.1.0.0/16", "crm.internal:8443"]. Everything else that is not a public address is refused; '
        "Flowyard's own API, Prefect API and databases are refused even when listed.",
    )

    @field_validator("allow")
    @classmethod
    def _entries(cls, entries: list[str]) -> list[str]:
        from core.egress import parse_allow_entry  # core.egress reads these settings

        for entry in entries:
            parse_allow_entry(entry)
        return entries


class KeySettings(BaseModel):
    vault_url: str | None = Field(
        None,
        description="The key vault: one secret per workspace that its data keys are wrapped with, kept apart "
        "from the platform database so that deleting a workspace makes its data unreadable in backups too "
        "(SQLAlchemy URL; defaults to SQLite at FLOWYARD_HOME/key-vault.db). Back it up on its own, briefly.",
    )
    cache_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="How long a process keeps a workspace's opened data keys: a rotated or destroyed key stops "
        "sealing or opening in every process within this time.",
    )
    encrypt_payloads: bool = Field(
        True,
        description="Seal workflow data (graphs, run inputs, step data, CRM records) with the workspace's data "
        "key. Off only for the benchmark's before/after comparison: never in production.",
    )


class TierSettings(BaseModel):
    """What one tenant tier gets on Kubernetes: its namespace's quota and each flow-run container's resources."""

    dedicated_pool: bool = Field(
        description="A work pool of the tenant's own whose Jobs run in its namespace (isolation), or the shared "
        "Flowyard worker pool (cost)."
    )
    quota_cpu: str = Field(description="ResourceQuota: requests.cpu and limits.cpu of the namespace.")
    quota_memory: str = Field(description="ResourceQuota: requests.memory and limits.memory of the namespace.")
    quota_pods: int = Field(ge=1, description="ResourceQuota: pods in the namespace.")
    quota_jobs: int = Field(ge=1, description="ResourceQuota: count/jobs.batch in the namespace.")
    cpu_request: str = Field(description="Each flow-run container's CPU request (and LimitRange default request).")
    memory_request: str = Field(description="Each flow-run container's memory request.")
    cpu_limit: str = Field(description="Each flow-run container's CPU limit (and LimitRange default and max).")
    memory_limit: str = Field(description="Each flow-run container's memory limit.")


DEFAULT_TIERS = {
    "shared": TierSettings(
        dedicated_pool=False,
        quota_cpu="1",
        quota_memory="1Gi",
        quota_pods=4,
        quota_jobs=20,
        cpu_request="100m",
        memory_request="128Mi",
        cpu_limit="500m",
        memory_limit="256Mi",
    ),
    "dedicated": TierSettings(
        dedicated_pool=True,
        quota_cpu="4",
        quota_memory="8Gi",
        quota_pods=20,
        quota_jobs=200,
        cpu_request="250m",
        memory_request="256Mi",
        cpu_limit="1",
        memory_limit="1Gi",
    ),
}


class KubernetesSettings(BaseModel):
    enabled: bool = Field(
        False,
        description="Reconcile each workspace's Kubernetes namespace, quota, network policies, service account "
        "and (by tier) Prefect work pool when it is created, changes tier or is deleted.",
    )
    kubeconfig: Path | None = Field(
        None, description="Kubeconfig file of the cluster; unset: in-cluster config, then KUBECONFIG."
    )
    platform_namespace: str = Field(
        "flowyard",
        description="Namespace of the platform (API, Prefect, workers): tenants' pods may reach its Prefect API.",
    )
    namespace_prefix: str = Field("flowyard-t-", description="A tenant's namespace is this prefix and its slug.")
    image: str = Field("flowyard:latest", description="Image of the flow-run Jobs in tenants' namespaces.")
    default_tier: str = Field("shared", description="The tier of a new workspace.")
    tiers: dict[str, TierSettings] = Field(
        default_factory=lambda: dict(DEFAULT_TIERS), description="Tiers by name, as a JSON object."
    )
    egress_cidrs: list[str] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        description="Where tenants' pods may connect besides DNS, the Prefect API and the platform API, minus private ranges "
        "(10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10).",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token KEDA's metrics-api scaler sends to the work-pool backlog endpoint."
    )
    prefect_api_url: str | None = Field(
        None,
        description="Prefect API URL flow-run pods in tenants' namespaces use (their Secret's PREFECT_API_URL); "
        "unset: http://prefect-server.<platform_namespace>.svc:4200/api.",
    )
    prefect_api_pod_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prefect-server"},
        description="Labels of the Prefect API pods in the platform namespace, the only pods tenants' pods may "
        "reach on port 4200.",
    )
    platform_api_url: str | None = Field(
        None,
        description="Platform API URL flow-run pods in tenants' namespaces call for their batch's work (the batch "
        "door; their Secret's FLOWYARD_BATCH_DOOR__URL); unset: http://platform-api.<platform_namespace>.svc:8000.",
    )
    platform_api_pod_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "platform-api"},
        description="Labels of the platform API pods in the platform namespace, which tenants' pods may reach on "
        "port 8000 for their batch (the batch door).",
    )
    batch_token_hours: float = Field(
        24,
        gt=0,
        description="How long a batch token (the batch door) opens its batch at most; it closes earlier when the "
        "batch ends.",
    )
    reconcile_batch: int = Field(
        200,
        ge=1,
        description="Workspaces the hourly maintenance pass reconciles on Kubernetes (drift repair, retries of "
        "failed sign-ups), the never or least recently reconciled first.",
    )

    @model_validator(mode="after")
    def _default_tier_exists(self) -> KubernetesSettings:
        if self.default_tier not in self.tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the tiers {sorted(self.tiers)}")
        return self


class BatchDoorSettings(BaseModel):
    """Set only inside a tenant's flow-run Job (from its Secrets): the interpreter then reads and writes its batch
    through the platform API, not the database (docs/kubernetes.md, The batch door)."""

    url: str | None = Field(None, description="The platform API's base URL, for its /internal/batches routes.")
    token: SecretStr | None = Field(None, description="The batch's token: opens that batch only, while it runs.")


LAST_BACKUP_FILE = "last-backup"  # touched in the backup directory by each successful `flowyard backup`


class SupervisionSettings(BaseModel):
    """How `flowyard up` restarts a child that died (docs/operations.md, Supervision)."""

    max_restarts: int = Field(
        10,
        ge=1,
        description="Crashes of one child within the window that `flowyard up` restarts; one more and it "
        "gives up and stops the others (a crash loop).",
    )
    restart_window_seconds: float = Field(600, gt=0, description="The window those crashes are counted in.")


class BackupSettings(BaseModel):
    """`flowyard backup` and `flowyard restore` (docs/backups.md)."""

    dir: Path | None = Field(None, description="Where `flowyard backup` writes; defaults to FLOWYARD_HOME/backups.")
    keep: int = Field(7, ge=1, description="Backups kept: a successful `flowyard backup` deletes older ones.")
    daily: bool | None = Field(
        None,
        description="Whether the hourly maintenance flow takes a backup when the last is a day old. Unset: on "
        "when the platform database is SQLite (the embedded default), off on PostgreSQL, whose base backups need "
        "replication rights, the PostgreSQL tools and a volume where the worker runs.",
    )
    wal_archive: Path | None = Field(
        None,
        description="PostgreSQL: the WAL archive directory archive_command copies into, which `flowyard restore "
        "--to` replays from (its --wal-archive) and retention trims.",
    )
    postgres_bin: Path | None = Field(
        None,
        description="Directory of the PostgreSQL tools backups run (pg_basebackup, pg_verifybackup, "
        "pg_archivecleanup); unset: PATH, then the newest /usr/lib/postgresql/<version>/bin.",
    )

    def directory(self, home: Path) -> Path:
        return (self.dir or home / "backups").expanduser().resolve()


class HelpSettings(BaseModel):
    """Where the help lives (docs/help.md): every docs link of node types, step failures and problem types."""

    base_url: str = Field(
        "/help/",
        description="Base URL of the help site that node types', step failures' and problem types' docs links "
        "start with; the default is the copy the platform API serves itself. Set it (ending in /) to a hosted copy.",
    )

    @field_validator("base_url")
    @classmethod
    def _ends_in_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWYARD_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses placeholder secrets."
    )
    home: Path = Field(Path(".flowyard"), description="Directory holding all local state (databases, logs).")
    database_url: str | None = Field(
        None,
        description="Platform database (SQLAlchemy URL); defaults to SQLite at FLOWYARD_HOME/platform.db. In "
        "production a PostgreSQL URL must verify the server: `sslmode=verify-full` and a CA (FLOWYARD_DATABASE_CA).",
    )
    database_ca: Path | None = Field(
        None,
        description="CA certificate (PEM) the PostgreSQL platform database's certificate is verified against: "
        "added to FLOWYARD_DATABASE_URL as `sslrootcert`, with `sslmode=verify-full` unless it names a mode.",
    )
    master_key: SecretStr = Field(
        SecretStr(PLACEHOLDER_MASTER_KEY),
        description="Master key that wraps each tenant's data key: 32 random bytes, base64 (make one with "
        f"`{MAKE_MASTER_KEY}`). Required in production; in development `flowyard up` generates one in "
        "FLOWYARD_HOME/secrets/master-key on first start.",
    )
    previous_master_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Master keys being rotated away from, as a JSON list: data keys they wrapped still open "
        "until `flowyard keys rotate-master` has re-wrapped them with FLOWYARD_MASTER_KEY (see Key rotation).",
    )
    api: ApiSettings = Field(default_factory=ApiSettings, description="The platform API.")
    prefect: PrefectSettings = Field(default_factory=PrefectSettings, description="The Prefect server.")
    worker: WorkerSettings = Field(default_factory=WorkerSettings, description="The Flowyard worker.")
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings, description="The dispatcher.")
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings, description="How steps run.")
    limits: LimitSettings = Field(
        default_factory=LimitSettings, description="Bounds on tenants' regular expressions, schemas and conditions."
    )
    integrations: IntegrationSettings = Field(
        default_factory=IntegrationSettings, description="External services: base URLs, timeouts, rate limits."
    )
    egress: EgressSettings = Field(
        default_factory=EgressSettings, description="Where workflow steps may connect (SSRF protection)."
    )
    quotas: QuotaSettings = Field(
        default_factory=QuotaSettings, description="What one tenant may use: executions, triggers per minute, streams."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long workspaces' runs, payloads and logs are kept."
    )
    keys: KeySettings = Field(default_factory=KeySettings, description="Workspace data keys and the key vault.")
    kubernetes: KubernetesSettings = Field(
        default_factory=KubernetesSettings, description="Per-tenant isolation on Kubernetes (tiers, namespaces)."
    )
    batch_door: BatchDoorSettings = Field(
        default_factory=BatchDoorSettings, description="Inside a tenant's Job: the platform API that runs its batch."
    )
    backup: BackupSettings = Field(
        default_factory=BackupSettings, description="Backups of the databases and point-in-time recovery."
    )
    supervision: SupervisionSettings = Field(
        default_factory=SupervisionSettings, description="How `flowyard up` restarts its children."
    )
    help: HelpSettings = Field(default_factory=HelpSettings, description="The help site and its links.")

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment == "production" and not is_strong_master_key(self.master_key.get_secret_value()):
            raise ValueError(
                "FLOWYARD_MASTER_KEY must be 32 random bytes, base64-encoded, in production; "
                f"make one with: {MAKE_MASTER_KEY}"
            )
        if self.environment == "production" and not self.keys.encrypt_payloads:
            raise ValueError("FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false is for the benchmark only, never for production")
        return self

    @model_validator(mode="after")
    def _prefect_auth_string(self) -> Settings:
        """Prefect's own PREFECT_API_AUTH_STRING (what Kubernetes and `flowyard up` give a process) counts
        as the setting; production never talks to an open Prefect API."""
        if self.prefect.auth_string is None and os.environ.get("PREFECT_API_AUTH_STRING"):
            self.prefect.auth_string = SecretStr(os.environ["PREFECT_API_AUTH_STRING"])
        if self.environment == "production" and self.prefect.auth_string is None:
            raise ValueError(
                "FLOWYARD_PREFECT__AUTH_STRING (or PREFECT_API_AUTH_STRING) must be set in production: "
                "the Prefect API must not be open"
            )
        return self

    @model_validator(mode="after")
    def _database_ca_once(self) -> Settings:
        if self.database_ca and self.database_url and "sslrootcert" in make_url(self.database_url).query:
            raise ValueError(
                "FLOWYARD_DATABASE_URL names an sslrootcert and FLOWYARD_DATABASE_CA is set: give the CA once"
            )
        return self

    @model_validator(mode="after")
    def _tls_in_transit_in_production(self) -> Settings:
        """In production, connections that leave the host are TLS with a verified server (docs/encryption.md)."""
        if self.environment == "production":
            problem = database_tls_problem(self.platform_database_url) or prefect_tls_problem(
                self.prefect_api_url, self.prefect.internal_hosts
            )
            if problem:
                raise ValueError(problem)
        return self

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def platform_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.home_dir / 'platform.db'}"
        if self.database_ca is None or not is_postgres(url):
            return url
        parsed = make_url(url)
        verify = {"sslrootcert": str(self.database_ca), "sslmode": parsed.query.get("sslmode", "verify-full")}
        return parsed.update_query_dict(verify).render_as_string(hide_password=False)

    @property
    def keys_vault_url(self) -> str:
        return self.keys.vault_url or f"sqlite:///{self.home_dir / 'key-vault.db'}"

    @property
    def prefect_api_url(self) -> str:
        return self.prefect.api_url or f"http://127.0.0.1:{self.prefect.port}/api"

    @property
    def prefect_database_url(self) -> str:
        return self.prefect.database_url or f"sqlite+aiosqlite:///{self.home_dir / 'prefect' / 'prefect.db'}"

    @property
    def worker_limit(self) -> int:
        if self.worker.limit:
            return self.worker.limit
        return 10 if self.prefect_database_url.startswith("sqlite") else 50

    @property
    def api_public_url(self) -> str:
        scheme = "https" if self.api.tls_cert else "http"
        return self.api.public_url or f"{scheme}://{self.api.host}:{self.api.port}"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() in ("postgresql", "postgres")


def database_tls_problem(url: str) -> str | None:
    """Why a platform database URL is not verified TLS (production), or None. SQLite is a local file."""
    if not is_postgres(url):
        return None
    query = make_url(url).query
    if query.get("sslmode") != "verify-full":
        mode = f"sslmode={query['sslmode']}" if "sslmode" in query else "no sslmode"
        return (
            f"FLOWYARD_DATABASE_URL has {mode}: in production PostgreSQL must be reached over TLS with its "
            "certificate verified; set FLOWYARD_DATABASE_CA to the server's CA certificate (it adds "
            "sslmode=verify-full), or put sslmode=verify-full and sslrootcert= in the URL"
        )
    if "sslrootcert" not in query:
        return (
            "FLOWYARD_DATABASE_URL has sslmode=verify-full but no CA: set FLOWYARD_DATABASE_CA to the PostgreSQL "
            "server's CA certificate (or add sslrootcert= to the URL)"
        )
    return None


def prefect_tls_problem(api_url: str, internal_hosts: list[str]) -> str | None:
    """Why the Prefect API URL may not be used in production, or None: it must be https, or plain http to
    this host (loopback) or to a host named in FLOWYARD_PREFECT__INTERNAL_HOSTS."""
    url = urlsplit(api_url)
    host = (url.hostname or "").lower()
    if url.scheme == "https" or (
        url.scheme == "http" and (_is_loopback(host) or host in {name.lower() for name in internal_hosts})
    ):
        return None
    return (
        f"FLOWYARD_PREFECT__API_URL is plain {url.scheme} to {host}: in production the Prefect API and its auth "
        "string must travel over TLS; use an https URL, or, if that host is reached only inside the cluster, "
        f'name it in FLOWYARD_PREFECT__INTERNAL_HOSTS, e.g. ["{host}"]'
    )


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_table(model: type[BaseModel] = Settings, prefix: str = "FLOWYARD_") -> list[str]:
    """Markdown rows `| variable | default | description |` for every setting (README, `flowyard settings`)."""
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += settings_table(annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        shown = "(development placeholder)" if isinstance(default, SecretStr) else default
        rows.append(f"| `{prefix}{name.upper()}` | `{shown}` | {field.description} |")
    return rows
