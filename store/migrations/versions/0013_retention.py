"""Retention policy per workspace and soft-deleted workspaces.

Retention (part of issue 14): a workspace's own policy in days on `tenants` (empty: the platform's default,
`FLOWYARD_RETENTION__*`), and `executions.payload_cleared_at`, set when the hourly `flowyard-maintenance`
flow cleared a run's input and its steps' inputs and outputs (so that it looks at each run once).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

RETENTION_COLUMNS = ("retention_run_history_days", "retention_step_payload_days", "retention_log_days")


def upgrade() -> None:
    for column in RETENTION_COLUMNS:
        op.add_column("tenants", sa.Column(column, sa.Integer(), nullable=True))
    op.add_column("executions", sa.Column("payload_cleared_at", sa.DateTime(timezone=True), nullable=True))
    _create_privacy_exports()


def downgrade() -> None:
    op.drop_table("privacy_exports")  # privacy (part D)
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `tenants` would cascade its deletion
    op.drop_column("executions", "payload_cleared_at")
    for column in reversed(RETENTION_COLUMNS):
        op.drop_column("tenants", column)


# --- privacy (issue 14 item 5): a workspace's data exports, with row-level security as in 0008 --------------

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"


def _create_privacy_exports() -> None:
    op.create_table(
        "privacy_exports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("bundle", sa.LargeBinary(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_exports_tenant_id", "privacy_exports", ["tenant_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE privacy_exports ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE privacy_exports FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON privacy_exports USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute("CREATE POLICY platform_owner ON privacy_exports TO CURRENT_USER USING (true) WITH CHECK (true)")
