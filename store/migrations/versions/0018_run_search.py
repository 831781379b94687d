"""Finding runs by a value in their input (issue 15 item 2) through blind indexes.

`run_search_keys`: per run, an HMAC of each search field's value under the workspace's index key
(`tenant_keys.wrapped_index_key`, wrapped by the master key); `tenants.search_fields` (empty: the
defaults); `executions.search_indexed`, with a partial index of the runs `engine.search_index` has not
indexed yet (all existing runs: indexed by the next passes, oldest first).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("executions", sa.Column("search_indexed", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(
        "ix_executions_not_search_indexed",
        "executions",
        ["created_at"],
        postgresql_where=sa.text("NOT search_indexed"),
        sqlite_where=sa.text("search_indexed = 0"),
    )
    op.add_column("tenants", sa.Column("search_fields", JSON, nullable=True))
    op.add_column("tenant_keys", sa.Column("wrapped_index_key", sa.Text(), nullable=True))
    op.create_table(
        "run_search_keys",
        sa.Column("tenant_id", sa.String(length=36), sa.ForeignKey("tenants.id", ondelete="CASCADE")),
        sa.Column("field", sa.String(length=64)),
        sa.Column("digest", sa.String(length=64)),
        sa.Column("execution_id", sa.String(length=36), sa.ForeignKey("executions.id", ondelete="CASCADE")),
        sa.PrimaryKeyConstraint("tenant_id", "field", "digest", "execution_id"),
    )
    op.create_index("ix_run_search_keys_execution_id", "run_search_keys", ["execution_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE run_search_keys ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE run_search_keys FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON run_search_keys USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute("CREATE POLICY platform_owner ON run_search_keys TO CURRENT_USER USING (true) WITH CHECK (true)")


def downgrade() -> None:
    op.drop_table("run_search_keys")
    op.drop_column("tenant_keys", "wrapped_index_key")
    op.drop_column("tenants", "search_fields")  # plain DROP COLUMN: a batch copy of `tenants` would cascade
    op.drop_index("ix_executions_not_search_indexed", table_name="executions")
    op.drop_column("executions", "search_indexed")
