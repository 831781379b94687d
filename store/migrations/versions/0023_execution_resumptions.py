"""Crash recovery (issue 19): `executions.resumptions` counts how often an execution was taken back from a
batch whose flow run crashed and queued again to resume from its stored steps; past
`FLOWYARD_EXECUTION__MAX_RESUMPTIONS` it fails instead. Existing rows have never been resumed.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("resumptions", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("executions", "resumptions")  # plain DROP COLUMN (SQLite >= 3.35), as in 0021
