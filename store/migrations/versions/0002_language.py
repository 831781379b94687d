"""language: waits, approvals, decisions, loop items

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:29:23.174455

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('approvals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('approvers', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=320), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('execution_id', 'node_id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approvals_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resume_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiting_node_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_executions_resume_at'), ['resume_at'], unique=False)

    with op.batch_alter_table('step_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))
        batch_op.create_unique_constraint('uq_step_results_execution_node_item', ['execution_id', 'node_id', 'item_index'])


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table('step_results', schema=None) as batch_op:
        batch_op.drop_constraint('uq_step_results_execution_node_item', type_='unique')
        batch_op.drop_column('decision')
        batch_op.drop_column('item_index')

    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_executions_resume_at'))
        batch_op.drop_column('waiting_node_id')
        batch_op.drop_column('resume_at')

    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approvals_tenant_id'))

    op.drop_table('approvals')

