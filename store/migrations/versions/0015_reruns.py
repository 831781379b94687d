"""Retries and replays: the run a run reruns; runs listed per tenant by time.

`executions.retry_of`: the run this one retries (from the failed step or the start) or replays; no
foreign key, so that retention may purge the original first.
`ix_executions_tenant_created`: the runs list's order when it is filtered by no workflow.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("retry_of", sa.String(length=36), nullable=True))
    op.create_index("ix_executions_retry_of", "executions", ["retry_of"])
    op.create_index("ix_executions_tenant_created", "executions", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_tenant_created", table_name="executions")
    op.drop_index("ix_executions_retry_of", table_name="executions")
    op.drop_column("executions", "retry_of")
