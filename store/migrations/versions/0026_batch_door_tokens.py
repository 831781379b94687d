"""The batch door (issue 18 item 2): a batch that runs as a Job in a tenant's namespace carries the SHA-256 of a
token minted for it, which opens the platform API's internal routes for that batch only, until it expires or the
batch ends. Batches of the shared pool have none.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batches", sa.Column("door_token_sha256", sa.String(length=64), nullable=True))
    op.add_column("batches", sa.Column("door_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("batches", "door_expires_at")  # plain DROP COLUMN (SQLite >= 3.35), as in 0021
    op.drop_column("batches", "door_token_sha256")
