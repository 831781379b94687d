"""Version messages (workflow history): `workflow_versions.message` is the optional note a person gives when
saving or restoring a version ("Restored from version 3"); NULL, as on every row older than this, means none.

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


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of the table would cascade its deletion
    op.drop_column("workflow_versions", "message")
