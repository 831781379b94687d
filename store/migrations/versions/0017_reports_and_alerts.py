"""Reports and alerts (issue 15 items 5 and 6).

Report rollups: per workflow and hour (and day, in the workspace's time zone), the live runs that ended;
per workflow, step and hour, their steps.

`executions.rolled_up`: whether `engine.rollups` has counted the run; runs already ended when this
migration runs are counted by the next folds, oldest first (a partial index finds them).

Alerts: a workspace's rules (`tenants.alert_rules`, empty: the defaults) and the alerts `engine.watch`
raises and resolves, at most one open per rule and subject.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
COUNTS = ("runs", "completed", "failed", "cancelled")


def upgrade() -> None:
    op.add_column("executions", sa.Column("rolled_up", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(
        "ix_executions_not_rolled_up",
        "executions",
        ["ended_at"],
        postgresql_where=sa.text("NOT rolled_up"),
        sqlite_where=sa.text("rolled_up = 0"),
    )
    op.create_table(
        "run_rollups",
        sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), sa.ForeignKey("workflows.id", ondelete="CASCADE")),
        sa.Column("grain", sa.String(length=4)),
        sa.Column("start", sa.DateTime(timezone=True)),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("durations", JSON, nullable=False),
        sa.Column("outcomes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "grain", "start"),
    )
    op.create_table(
        "step_rollups",
        sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), sa.ForeignKey("workflows.id", ondelete="CASCADE")),
        sa.Column("node_id", sa.String(length=64)),
        sa.Column("hour", sa.DateTime(timezone=True)),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("durations", JSON, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "node_id", "hour"),
    )
    op.create_index("ix_run_rollups_tenant_grain_start", "run_rollups", ["tenant_id", "grain", "start"])
    _create_alerts()
    if op.get_bind().dialect.name == "postgresql":
        for table in ("run_rollups", "step_rollups", "alerts"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
            op.execute(f"CREATE POLICY platform_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")


def _create_alerts() -> None:
    op.add_column("tenants", sa.Column("alert_rules", JSON, nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_alerts_tenant_created", "alerts", ["tenant_id", "created_at"])
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["tenant_id", "rule", "subject"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_column("tenants", "alert_rules")  # plain DROP COLUMN: a batch copy of `tenants` would cascade
    op.drop_table("step_rollups")
    op.drop_table("run_rollups")
    op.drop_index("ix_executions_not_rolled_up", table_name="executions")
    op.drop_column("executions", "rolled_up")
