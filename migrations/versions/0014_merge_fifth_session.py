"""Merge the fifth session's heads: the LTI score stamp and the facts' covering index.

Revision ID: 0014_merge
Revises: 0013_interop_score_stamp, 0013_period2, 0013_hotpath2
"""

revision = "0014_merge"
down_revision = ("0013_interop_score_stamp", "0013_period2", "0013_hotpath2")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
