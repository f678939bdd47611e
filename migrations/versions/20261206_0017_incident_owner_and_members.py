"""Who works an incident: its owner (主担当, one at most) and members (担当メンバー)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'incident_people',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'member')", name=op.f('ck_incident_people_role_known')),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_people_incident_id_incidents')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_people_user_id_users')),
        sa.PrimaryKeyConstraint('incident_id', 'user_id', name=op.f('pk_incident_people')),
    )
    op.create_index('uq_incident_people_one_owner', 'incident_people', ['incident_id'], unique=True,
                    sqlite_where=sa.text("role = 'owner'"), postgresql_where=sa.text("role = 'owner'"))
    op.create_index('ix_incident_people_user', 'incident_people', ['user_id', 'role', 'incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_people_user', table_name='incident_people')
    op.drop_index('uq_incident_people_one_owner', table_name='incident_people')
    op.drop_table('incident_people')
