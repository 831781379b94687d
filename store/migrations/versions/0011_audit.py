"""The audit trail: append-only audit_events, hash-chained per tenant.

On PostgreSQL the table gets the row-level security of migration 0007, and the tenant role (the API's)
may only read and add rows: no UPDATE or DELETE, so no API route can change or remove a row.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_ROLE = "flowyard_tenant"
OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"

APPEND_ONLY = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {TENANT_ROLE};
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor_user_id", sa.String(length=36), nullable=True),
        sa.Column("actor_api_key_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_events_tenant_seq"),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name="uq_audit_events_tenant_dedupe"),
    )
    op.create_index("ix_audit_events_tenant_created", "audit_events", ["tenant_id", "created_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON audit_events USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute("CREATE POLICY platform_owner ON audit_events TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.drop_index("ix_audit_events_tenant_created", table_name="audit_events")
    op.drop_table("audit_events")
