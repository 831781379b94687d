"""Key ids for master-key and tenant-key rotation: `tenant_keys.key_id` (the data key's id, named in what it
seals; existing keys are `k0`, as their values name none) and `tenant_keys.master_key_id` (the master key
that wrapped it; NULL for keys wrapped before), and `tenant_retired_keys`, a tenant's earlier data keys kept
while a rotation seals its secrets again.

On PostgreSQL the new table gets the row-level security of migration 0007.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"


def upgrade() -> None:
    with op.batch_alter_table("tenant_keys") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), server_default="k0", nullable=False))
        batch_op.add_column(sa.Column("master_key_id", sa.String(length=32), nullable=True))
    op.create_table(
        "tenant_retired_keys",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "key_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tenant_retired_keys ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE tenant_retired_keys FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON tenant_retired_keys USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute("CREATE POLICY platform_owner ON tenant_retired_keys TO CURRENT_USER USING (true) WITH CHECK (true)")


def downgrade() -> None:
    op.drop_table("tenant_retired_keys")
    with op.batch_alter_table("tenant_keys") as batch_op:
        batch_op.drop_column("master_key_id")
        batch_op.drop_column("key_id")
