"""Tenant payloads sealed at rest (issue 22): workflow graphs, run inputs and errors, step data, approval
context, ledger results, outbox snapshots, notification bodies and CRM records become text columns that hold
AES-256-GCM ciphertext (`store.sealed`). Rows already there stay readable as plain JSON until
`engine.reencrypt` seals them. CRM contacts get blind indexes of their email and phone (`email_index`,
`phone_index`); tenant data keys say whether the key vault's secret wraps them too (`vaulted`).

On SQLite the declared column types stay (a table copy would cascade deletes through foreign keys; SQLite
stores text in any column), which `store.migrate.compare_type` knows.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SEALED = {
    "workflow_versions": ["graph"],
    "executions": ["input", "error"],
    "step_results": ["input", "output", "error", "decision"],
    "approvals": ["message", "approvers", "comment"],
    "side_effects": ["result"],
    "outbox": ["before", "after"],
    "notifications": ["body", "data"],
    "crm_companies": ["properties"],
    "crm_contacts": ["properties", "email", "phone"],
    "crm_deals": ["properties"],
    "crm_activities": ["body"],
}
JSON_COLUMNS = {"graph", "input", "error", "output", "decision", "approvers", "result", "before", "after", "data", "properties"}


def upgrade() -> None:
    for table in ("tenant_keys", "tenant_retired_keys"):
        op.add_column(table, sa.Column("vaulted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("crm_contacts", sa.Column("email_index", sa.String(length=64), nullable=True))
    op.add_column("crm_contacts", sa.Column("phone_index", sa.String(length=64), nullable=True))
    op.create_index("uq_crm_contacts_tenant_email_index", "crm_contacts", ["tenant_id", "email_index"], unique=True)
    op.create_index("ix_crm_contacts_tenant_phone_index", "crm_contacts", ["tenant_id", "phone_index"])
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in SEALED.items():
            for column in columns:
                op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE text USING "{column}"::text')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # sealed values must have been opened first (not automatic)
        for table, columns in SEALED.items():
            for column in columns:
                if column in JSON_COLUMNS:
                    op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE jsonb USING "{column}"::jsonb')
    op.drop_index("ix_crm_contacts_tenant_phone_index", table_name="crm_contacts")
    op.drop_index("uq_crm_contacts_tenant_email_index", table_name="crm_contacts")
    op.drop_column("crm_contacts", "phone_index")
    op.drop_column("crm_contacts", "email_index")
    for table in ("tenant_keys", "tenant_retired_keys"):
        op.drop_column(table, "vaulted")
