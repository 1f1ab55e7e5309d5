"""Merge the heads of the fourth session's work (LTI with its grades, knowledge tests, evaluations,
offline attendance, the rollup rebuilt aside, the hot path's content versions) that each grew
from 0009.

Revision ID: 0012_merge
"""

revision = "0012_merge"
down_revision = ("0010_evals", "0010_fieldoff", "0010_gain", "0010_hotpath", "0010_scale", "0011_ags")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
