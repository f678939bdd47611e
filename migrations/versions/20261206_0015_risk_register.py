"""The risk register behind the policy review: assessments (versioned), near misses, findings of audit and self-inspection, changes of circumstance

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0015'
# 0014 (the incident facts of issue 17) is written alongside this one: when both are merged, this
# revision's down_revision becomes '0014'.
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risk_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('threat_category', sa.String(length=20), nullable=False),
    sa.Column('subcategory', sa.String(length=40), nullable=False),
    sa.Column('asset_class', sa.String(length=50), nullable=False),
    sa.Column('segment', sa.String(length=20), nullable=False),
    sa.Column('likelihood', sa.Integer(), nullable=False),
    sa.Column('loss', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('assessed_by_id', sa.Integer(), nullable=False),
    sa.Column('assessed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('likelihood BETWEEN 1 AND 5', name=op.f('ck_risk_assessments_likelihood_range')),
    sa.CheckConstraint('loss BETWEEN 1 AND 5', name=op.f('ck_risk_assessments_loss_range')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_risk_assessments_version_positive')),
    sa.ForeignKeyConstraint(['assessed_by_id'], ['users.id'], name=op.f('fk_risk_assessments_assessed_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_risk_assessments_organization_id_organizations')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['risk_assessments.id'], name=op.f('fk_risk_assessments_supersedes_id_risk_assessments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_assessments')),
    sa.UniqueConstraint('organization_id', 'threat_category', 'subcategory', 'asset_class', 'segment', 'version', name='uq_risk_assessments_row_version'),
    sa.UniqueConstraint('supersedes_id', name='uq_risk_assessments_supersedes')
    )
    with op.batch_alter_table('risk_assessments', schema=None) as batch_op:
        batch_op.create_index('ix_risk_assessments_org_assessed', ['organization_id', 'assessed_at', 'superseded_at'], unique=False)
        batch_op.create_index('uq_risk_assessments_current', ['organization_id', 'threat_category', 'subcategory', 'asset_class', 'segment'], unique=True, sqlite_where=sa.text('superseded_at IS NULL'), postgresql_where=sa.text('superseded_at IS NULL'))

    op.create_table('risk_circumstances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('noted_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('threat_category', sa.String(length=20), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risk_circumstances_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_risk_circumstances_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_circumstances'))
    )
    with op.batch_alter_table('risk_circumstances', schema=None) as batch_op:
        batch_op.create_index('ix_risk_circumstances_org_noted', ['organization_id', 'noted_on'], unique=False)

    op.create_table('risk_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('clause', sa.String(length=40), nullable=False),
    sa.Column('rating', sa.String(length=30), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('threat_category', sa.String(length=20), nullable=True),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('audit', 'self_inspection')", name=op.f('ck_risk_findings_source_known')),
    sa.CheckConstraint('resolved_on IS NULL OR resolved_on >= found_on', name=op.f('ck_risk_findings_resolved_after_found')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risk_findings_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_risk_findings_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_findings'))
    )
    with op.batch_alter_table('risk_findings', schema=None) as batch_op:
        batch_op.create_index('ix_risk_findings_org_found', ['organization_id', 'found_on'], unique=False)
        batch_op.create_index('ix_risk_findings_org_open', ['organization_id', 'resolved_on', 'due_on'], unique=False)

    op.create_table('risk_near_misses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('threat_category', sa.String(length=20), nullable=False),
    sa.Column('subcategory', sa.String(length=40), nullable=True),
    sa.Column('segment', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('occurred_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=False),
    sa.Column('marked_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['marked_by_id'], ['users.id'], name=op.f('fk_risk_near_misses_marked_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_risk_near_misses_organization_id_organizations')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_risk_near_misses_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_near_misses')),
    sa.UniqueConstraint('report_id', name='uq_risk_near_misses_report_id')
    )
    with op.batch_alter_table('risk_near_misses', schema=None) as batch_op:
        batch_op.create_index('ix_risk_near_misses_org_occurred', ['organization_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('risk_near_misses', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_near_misses_org_occurred')

    op.drop_table('risk_near_misses')
    with op.batch_alter_table('risk_findings', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_findings_org_open')
        batch_op.drop_index('ix_risk_findings_org_found')

    op.drop_table('risk_findings')
    with op.batch_alter_table('risk_circumstances', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_circumstances_org_noted')

    op.drop_table('risk_circumstances')
    with op.batch_alter_table('risk_assessments', schema=None) as batch_op:
        batch_op.drop_index('uq_risk_assessments_current', sqlite_where=sa.text('superseded_at IS NULL'), postgresql_where=sa.text('superseded_at IS NULL'))
        batch_op.drop_index('ix_risk_assessments_org_assessed')

    op.drop_table('risk_assessments')
