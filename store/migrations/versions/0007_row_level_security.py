"""Row-level security on every tenant-owned table (PostgreSQL only; SQLite has none: a no-op there).

Defence in depth under the services' tenant filters: the API runs an authenticated request's transactions
as the `flowyard_tenant` role with `flowyard.tenant_id` set to the caller's tenant, so a query that forgets
its filter still sees only that tenant's rows, and cannot write another tenant's.

- `tenant_isolation` on each table: `tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')`
  for reading and writing. Ids are text, so the comparison is text = text and a tenant_id index still
  serves it. No tenant set (or `''` after an earlier transaction set it locally): no rows.
- `catalog_templates` also lets everyone read the public templates (`tenant_id IS NULL`); only a tenant's
  own rows can be written.
- FORCE makes the tables' owner subject to the policies too. The platform's own processes (dispatcher,
  outbox, worker, reconcile, unauthenticated routes) run as the owner and cross tenants by design: the
  `platform_owner` policy says so explicitly for the role that ran this migration. A superuser or a
  BYPASSRLS role skips row-level security anyway.
- `flowyard_tenant` (NOLOGIN) gets the table privileges the API needs, now and (default privileges) for
  tables later migrations create; it is granted to the migrating role so that role can `SET ROLE`. Roles
  are cluster-wide, so it is created only when missing and never dropped: other databases may use it.
  A role that may not create roles skips this (with a notice); turn the API's role switch off there
  (FLOWYARD_API__TENANT_ROLE=false).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TENANT_ROLE = "flowyard_tenant"
TENANT_SETTING = "NULLIF(current_setting('flowyard.tenant_id', true), '')"
TENANT_TABLES = (
    "api_keys",
    "approvals",
    "batches",
    "connections",
    "crm_activities",
    "crm_companies",
    "crm_contacts",
    "crm_deals",
    "crm_tags",
    "executions",
    "login_sessions",
    "memberships",
    "notifications",
    "oauth_states",
    "outbox",
    "side_effects",
    "step_results",
    "tenant_keys",
    "trigger_subscriptions",
    "webhook_endpoints",
    "workflow_lineage",
    "workflow_versions",
    "workflows",
)
PUBLIC_READABLE_TABLES = ("catalog_templates",)  # tenant_id NULL: Flowyard's public catalog

CREATE_TENANT_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            BEGIN
                CREATE ROLE {TENANT_ROLE} NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's migration created it just now
            END;
        ELSE
            RAISE NOTICE 'role {TENANT_ROLE} is missing and % may not create it: the API cannot switch to it',
                current_user;
        END IF;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {TENANT_ROLE}',
            current_schema());
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {TENANT_ROLE}', current_schema());
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {TENANT_ROLE}', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES '
            'TO {TENANT_ROLE}', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {TENANT_ROLE}',
            current_schema());
        IF NOT pg_has_role(current_user, '{TENANT_ROLE}', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT {TENANT_ROLE} TO %I', current_user);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'ask a superuser to GRANT {TENANT_ROLE} TO %: until then the API cannot switch to it',
                        current_user;
            END;
        END IF;
    END IF;
END
$$
"""

DROP_TENANT_GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM {TENANT_ROLE}',
            current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM {TENANT_ROLE}',
            current_schema());
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {TENANT_ROLE}', current_schema());
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {TENANT_ROLE}', current_schema());
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM {TENANT_ROLE}', current_schema());
    END IF;
END
$$
"""


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _enable(table: str, *, public_readable: bool) -> None:
    own_rows = f"tenant_id = {TENANT_SETTING}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    if public_readable:  # read: own rows and public ones; write: own rows only (policies are OR-ed per command)
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({own_rows}) WITH CHECK ({own_rows})")
        op.execute(f"CREATE POLICY public_rows ON {table} FOR SELECT USING (tenant_id IS NULL)")
    else:
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({own_rows}) WITH CHECK ({own_rows})")
    op.execute(f"CREATE POLICY platform_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")


def _disable(table: str) -> None:
    for policy in ("platform_owner", "public_rows", "tenant_isolation"):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def upgrade() -> None:
    if not _is_postgresql():
        return
    for table in TENANT_TABLES:
        _enable(table, public_readable=False)
    for table in PUBLIC_READABLE_TABLES:
        _enable(table, public_readable=True)
    op.execute(CREATE_TENANT_ROLE)


def downgrade() -> None:
    if not _is_postgresql():
        return
    for table in TENANT_TABLES + PUBLIC_READABLE_TABLES:
        _disable(table)
    op.execute(DROP_TENANT_GRANTS)
