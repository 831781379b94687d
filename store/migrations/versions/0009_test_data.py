"""CRM records and outbox rows written by a test run carry `test_data`: the API flags (or hides) them
and the outbox never turns them into data-change executions, so a test run cannot start a live workflow.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("crm_companies", "crm_contacts", "crm_deals", "crm_activities", "outbox")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("test_data", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("test_data")
