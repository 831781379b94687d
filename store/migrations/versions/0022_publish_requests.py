"""Approval before production (issue 17 item 2):
- `publish_policies`: a workspace's rule (`workflow_id` NULL: whether publishing needs approval, and which roles
  still publish directly) and workflows' overrides of it (`requires_approval` NULL: follow the workspace). No row
  means the defaults: no approval needed.
- `publish_requests`: a request to publish exactly one version of a workflow, `pending` until an owner or admin
  approves or rejects it, or `stale` once another version was published; at most one pending per version.
Both are tenant-owned: row-level security as in 0007.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
TABLES = ("publish_policies", "publish_requests")


def _tenant_id() -> sa.Column:
    return sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "publish_policies",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _tenant_id(),
        sa.Column("workflow_id", sa.String(length=36), sa.ForeignKey("workflows.id", ondelete="CASCADE")),
        sa.Column("requires_approval", sa.Boolean(), nullable=True),
        sa.Column("direct_roles", sa.JSON(), nullable=True),
    )
    op.create_index(
        "uq_publish_policies_workspace",
        "publish_policies",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("workflow_id IS NULL"),
        sqlite_where=sa.text("workflow_id IS NULL"),
    )
    op.create_index("uq_publish_policies_workflow", "publish_policies", ["workflow_id"], unique=True)
    op.create_table(
        "publish_requests",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _tenant_id(),
        sa.Column(
            "workflow_id", sa.String(length=36), sa.ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_publish_requests_tenant_created", "publish_requests", ["tenant_id", "created_at"])
    op.create_index(
        "ix_publish_requests_tenant_status_created", "publish_requests", ["tenant_id", "status", "created_at"]
    )
    op.create_index("ix_publish_requests_workflow_id", "publish_requests", ["workflow_id"])
    op.create_index(
        "uq_publish_requests_pending",
        "publish_requests",
        ["workflow_id", "version"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
            op.execute(f"CREATE POLICY platform_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")


def downgrade() -> None:
    op.drop_table("publish_requests")  # its indexes and policies go with it
    op.drop_table("publish_policies")
