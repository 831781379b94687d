"""Version history and workflow files (issue 17):
- `workflow_versions.message`: the optional note given when saving or restoring a version ("Restored from
  version 3"); NULL, as on every older row, means none.
- `workflows.key`: the stable name a workflow file is imported by (`flowyard deploy` creates or updates the
  workflow with that key); unique within a workspace, NULL until the workflow is exported or imported.
- `workflows.tags`: labels kept with the workflow and carried by its export.
All three are in clear, like a workflow's name and description: workflow metadata, not run data.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workflow_versions", sa.Column("message", sa.String(length=500), nullable=True))
    op.add_column("workflows", sa.Column("key", sa.String(length=100), nullable=True))
    op.add_column("workflows", sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.create_index("ix_workflows_tenant_key", "workflows", ["tenant_id", "key"], unique=True)


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of the table would cascade its deletion
    op.drop_index("ix_workflows_tenant_key", table_name="workflows")
    op.drop_column("workflows", "tags")
    op.drop_column("workflows", "key")
    op.drop_column("workflow_versions", "message")
