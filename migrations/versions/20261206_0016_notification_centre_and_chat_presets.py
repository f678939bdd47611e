"""The notification centre (when a person read an in-app message, the index of their inbox, the
sentence of a personal notice, each person's choice of channels) and the chat service behind each
person's webhook

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('detail', sa.Text(), nullable=True))
    op.create_index('ix_notifications_inbox', 'notifications', ['recipient_id', 'channel', 'read_at', 'id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_preset', sa.String(length=12), server_default='generic', nullable=False))
        batch_op.create_check_constraint(op.f('ck_users_webhook_preset_known'),
                                         "webhook_preset IN ('generic', 'teams', 'slack', 'lineworks')")


    op.create_table(
        'notification_choices',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('in_app', sa.Boolean(), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_choices_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_choices')),
    )


def downgrade() -> None:
    op.drop_table('notification_choices')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_webhook_preset_known'), type_='check')
        batch_op.drop_column('webhook_preset')
    op.drop_index('ix_notifications_inbox', table_name='notifications')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('detail')
        batch_op.drop_column('read_at')
