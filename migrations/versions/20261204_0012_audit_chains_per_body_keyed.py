"""Audit chains per body, keyed: chain, seq and key_id on every entry, one head row per chain

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:50:00.000000

The entries already there were hashed without a key. They are kept as they are, as the sealed
chain ':legacy' (seq = their id, key_id NULL), still verified with the function that wrote
them; the single head row becomes that chain's head (0 and
the genesis hash on a log still empty). Every new chain starts from the legacy
head's hash and its entries are keyed, so rewriting a legacy entry breaks the first keyed entry
of every body, and the checkpoints cover the legacy head like any other. Re-chaining the old
rows with the key instead would need the key here and would bless whatever had been altered.

Entry and head ids are handed out by the database from now on (a sequence on PostgreSQL).
Downgrading keeps only the legacy chain's head: entries written after 0012 then no longer
verify with the old, single-chain check.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

LEGACY = ':legacy'
GENESIS = '0' * 64


def _own_sequence(table: str) -> None:
    op.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    op.execute(f"SELECT setval('{table}_id_seq', COALESCE((SELECT MAX(id) FROM {table}), 1), "
               f"(SELECT MAX(id) FROM {table}) IS NOT NULL)")


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=40), nullable=False, server_default=LEGACY))
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('key_id', sa.String(length=40), nullable=True))
    op.execute("UPDATE audit_log SET seq = id")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('chain', server_default=None)
        batch_op.alter_column('seq', server_default=None)
        batch_op.create_unique_constraint('uq_audit_log_chain_seq', ['chain', 'seq'])

    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=40), nullable=False, server_default=LEGACY))
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.alter_column('chain', server_default=None)
        batch_op.create_unique_constraint('uq_audit_head_chain', ['chain'])
    if op.get_bind().dialect.name == 'postgresql':
        _own_sequence('audit_log')
        _own_sequence('audit_head')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('audit_log', 'audit_head'):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            op.execute(f"DROP SEQUENCE {table}_id_seq")
    op.execute(sa.text("DELETE FROM audit_head WHERE chain <> :legacy").bindparams(legacy=LEGACY))
    op.execute(sa.text("INSERT INTO audit_head (id, chain, last_id, last_hash) SELECT 1, :legacy, 0, :genesis "
                       "WHERE NOT EXISTS (SELECT 1 FROM audit_head)").bindparams(legacy=LEGACY, genesis=GENESIS))
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_head_chain', type_='unique')
        batch_op.drop_column('chain')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_log_chain_seq', type_='unique')
        batch_op.drop_column('key_id')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
