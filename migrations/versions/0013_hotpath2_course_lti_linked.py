"""``courses.lti_linked``: set once a resource link of an LTI platform opens the course, so that a learning
event of a course no platform links to skips the look-up of the links that pass grades back
(``learning.lti.ags.on_learning_event``; docs/PERFORMANCE.md, "Hot path (fifth session)").

Revision ID: 0013_hotpath2
Revises: 0012_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_hotpath2"
down_revision = "0012_merge"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courses") as batch_op:
        batch_op.add_column(sa.Column("lti_linked", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE courses SET lti_linked = true WHERE id IN "
               "(SELECT course_id FROM lti_resource_links WHERE course_id IS NOT NULL)")


def downgrade():
    with op.batch_alter_table("courses") as batch_op:
        batch_op.drop_column("lti_linked")
