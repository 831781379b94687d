"""CRM screens (issue 16 item 4): `crm_record_runs` links a CRM record to the runs that touched it (a step that
wrote it, or a data-change trigger its change fired), for the record page's "workflows that touched this record".
Runs before this migration have no links. Tenant-owned: row-level security as in 0007.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
TABLE = "crm_record_runs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column(
            "execution_id", sa.String(length=36), sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crm_record_runs_record", TABLE, ["tenant_id", "record_id", "created_at"])
    op.create_index("ix_crm_record_runs_execution_id", TABLE, ["execution_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {TABLE} USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute(f"CREATE POLICY platform_owner ON {TABLE} TO CURRENT_USER USING (true) WITH CHECK (true)")


def downgrade() -> None:
    op.drop_table(TABLE)
