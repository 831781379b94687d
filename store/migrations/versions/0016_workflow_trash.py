"""The workflow trash: a deleted workflow is kept 30 days, restorable, then purged (issue 15 item 1).

`workflows.deleted_at`: when it was deleted (null for a live workflow); no trigger starts it, the API lists it
only in the trash, and the hourly retention purge deletes it 30 days later (`ix_workflows_deleted_at`).
`workflows.deleted_name`: its name while in the trash, where `name` holds a placeholder unique by the workflow's
id, so that a live workflow may take the name (the unique (tenant_id, name) constraint stays as it is: on SQLite,
changing it would mean copying `workflows`, and dropping the old copy would cascade to every run).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workflows", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("workflows", sa.Column("deleted_name", sa.String(length=200), nullable=True))
    op.create_index("ix_workflows_deleted_at", "workflows", ["deleted_at"])


def downgrade() -> None:
    # workflows still in the trash come back disabled (under their placeholder names): nothing starts them
    op.execute(sa.text("UPDATE workflows SET disabled = :yes WHERE deleted_at IS NOT NULL").bindparams(yes=True))
    op.drop_index("ix_workflows_deleted_at", table_name="workflows")
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `workflows` would cascade its deletion
    op.drop_column("workflows", "deleted_name")
    op.drop_column("workflows", "deleted_at")
