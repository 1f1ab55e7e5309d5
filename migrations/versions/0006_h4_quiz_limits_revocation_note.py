"""Quiz attempt limits per course, and an internal note on revocations apart from the public reason.

``courses.max_quiz_attempts`` (null: no limit) attempts within ``quiz_cooldown_minutes`` (0: ever), so
that the score shown after each attempt cannot be used to find the answers by trial; existing courses get
the defaults (3 per 60 minutes). ``certificates.revocation_note`` is for admins only: the verify page and
API show ``revocation_reason`` alone.

Revision ID: 0006_h4
Revises: 0005_reminders_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h4"
down_revision = "0005_reminders_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courses") as batch_op:
        batch_op.add_column(sa.Column("max_quiz_attempts", sa.Integer(), nullable=True, server_default="3"))
        batch_op.add_column(sa.Column("quiz_cooldown_minutes", sa.Integer(), nullable=False, server_default="60"))
    with op.batch_alter_table("certificates") as batch_op:
        batch_op.add_column(sa.Column("revocation_note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("certificates") as batch_op:
        batch_op.drop_column("revocation_note")
    with op.batch_alter_table("courses") as batch_op:
        batch_op.drop_column("quiz_cooldown_minutes")
        batch_op.drop_column("max_quiz_attempts")
