"""Per-tenant quotas: `tenant_quotas` (a tenant's own limits), `tenant_minute_counts` (its triggers per
minute, shared by API replicas) and an index of executions by tenant and status (the dispatcher's fair,
per-tenant claim and the count of a tenant's queued executions).

On PostgreSQL both tables get the row-level security of migration 0007, and the tenant role may read its
quotas but not write them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TENANT_ROLE = "flowyard_tenant"
OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
TABLES = ("tenant_quotas", "tenant_minute_counts")

READ_ONLY_QUOTAS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        REVOKE INSERT, UPDATE, DELETE ON tenant_quotas FROM {TENANT_ROLE};
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "tenant_quotas",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("max_queued", sa.Integer(), nullable=True),
        sa.Column("webhooks_per_minute", sa.Integer(), nullable=True),
        sa.Column("events_per_minute", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_quotas"),
    )
    op.create_table(
        "tenant_minute_counts",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "minute", name="pk_tenant_minute_counts"),
    )
    op.create_index(
        "ix_executions_tenant_status_created", "executions", ["tenant_id", "status", "created_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
            op.execute(f"CREATE POLICY platform_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute(READ_ONLY_QUOTAS)


def downgrade() -> None:
    op.drop_index("ix_executions_tenant_status_created", table_name="executions")
    op.drop_table("tenant_minute_counts")
    op.drop_table("tenant_quotas")
