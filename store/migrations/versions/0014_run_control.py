"""Run control: disabled workflows and cancelled runs' stopping point.

`workflows.disabled`: no trigger starts a disabled workflow and its schedules pause (issue 15 item 1).
`executions.stopped_at_node_id`: the step a cancelled run stopped at.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workflows", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("executions", sa.Column("stopped_at_node_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `workflows` would cascade its deletion
    op.drop_column("executions", "stopped_at_node_id")
    op.drop_column("workflows", "disabled")
