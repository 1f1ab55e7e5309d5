"""Field training offline: an attendance mark may be "excused" (absent with a reason the trainer
accepted); the attendance rules still count only "present" (docs/FIELD_TRAINING.md, "The register
offline").

Revision ID: 0010_fieldoff
Revises: 0009_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_fieldoff"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(sa.Column("excused", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("excused")
