"""Tenant tiers on Kubernetes (issue 18): `tenants.tier` names the tier of `FLOWYARD_KUBERNETES__TIERS` a
workspace is on (its namespace's quota, and whether it has a Prefect work pool of its own); NULL, as on every
row older than this, means the settings' default tier. `tenants.kube_reconciled_at` is when a pass last applied
its Kubernetes objects: the periodic pass takes the never or least recently reconciled first.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("tier", sa.String(length=32), nullable=True))
    op.add_column("tenants", sa.Column("kube_reconciled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `tenants` would cascade its deletion
    op.drop_column("tenants", "kube_reconciled_at")
    op.drop_column("tenants", "tier")
