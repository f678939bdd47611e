"""Reporting facts (issue 17): when a reportable situation was recognised, the incident's 機関,
which systems held the personal data, its encryption and public exposure; what each deadline
counts from

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _incident_columns() -> list[sa.Column]:
    return [
        sa.Column('recognized_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('organ', sa.String(length=40), nullable=True),
        sa.Column('pd_held_in', sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column('pd_encrypted', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('pd_public_exposure', sa.Boolean(), server_default=sa.false(), nullable=False),
    ]


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite the incidents table is not rebuilt, so the
    # incident_counts triggers of 0010 stay (README "Upgrading"; a batch here rebuilt it).
    for column in _incident_columns():
        op.add_column('incidents', column)
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counts_from', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint('counts_from_known', "counts_from IN ('detected_at', 'recognized_at')")
    # every rule deadline so far counted from detection; a notice a handler added counts from nothing
    deadlines = sa.table('deadlines', sa.column('origin', sa.String), sa.column('counts_from', sa.String))
    op.execute(deadlines.update().where(deadlines.c.origin == 'rule').values(counts_from='detected_at'))


def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_constraint('counts_from_known', type_='check')
        batch_op.drop_column('counts_from')
    # SQLite's own DROP COLUMN (3.35+) keeps the table and its triggers; no index names these columns
    for column in reversed(_incident_columns()):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE incidents DROP COLUMN {column.name}")
        else:
            op.drop_column('incidents', column.name)
