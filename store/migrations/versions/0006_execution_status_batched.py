"""An execution in a batch whose flow run has not started it is `batched` (it was `pending`, the API's word
for both it and a `queued` one).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE executions SET status = 'batched' WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("UPDATE executions SET status = 'pending' WHERE status = 'batched'")
