"""``courses.content_version``: raised whenever a course's content changes, so that each web process
may keep a course's outline and titles between requests and know when they are stale
(``learning.catalogue.content``; docs/PERFORMANCE.md, "Hot path (fourth session)").

Revision ID: 0010_hotpath
Revises: 0009_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_hotpath"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courses") as batch_op:
        batch_op.add_column(sa.Column("content_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("courses") as batch_op:
        batch_op.drop_column("content_version")
