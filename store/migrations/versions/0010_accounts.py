"""Members, invitations, sessions and passwords: invitations, password resets, login attempts, API key scopes.

`invitations` is tenant-owned and gets the row-level security of migration 0007. Password resets and login
attempts belong to a user or a client address, not to a tenant: only the platform's own role (unauthenticated
routes and a person's own calls) uses them, and on PostgreSQL the tenant role gets no access to them. Existing API keys get the `admin` scope: they stay limited only by their role.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OWN_ROWS = "tenant_id = NULLIF(current_setting('flowyard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)
TENANT_ROLE = "flowyard_tenant"
NOT_FOR_TENANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
        REVOKE ALL ON password_resets, login_attempts FROM {TENANT_ROLE};
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.String(length=36), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("accepted_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index("ix_invitations_tenant_id", "invitations", ["tenant_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_subject_created", "login_attempts", ["subject", "created_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("scopes", JSON, nullable=False, server_default=sa.text("'[\"admin\"]'")))
    with op.batch_alter_table("login_sessions") as batch_op:
        batch_op.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE invitations ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE invitations FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON invitations USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})")
        op.execute("CREATE POLICY platform_owner ON invitations TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute(NOT_FOR_TENANTS)


def downgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch_op:
        batch_op.drop_column("client_address")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("scopes")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("name")
    op.drop_index("ix_login_attempts_subject_created", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index("ix_password_resets_user_id", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index("ix_invitations_tenant_id", table_name="invitations")
    op.drop_table("invitations")
