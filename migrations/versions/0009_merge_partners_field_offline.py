"""Merge the heads of the new capabilities (partner organisations, single sign-on, field training,
offline learning) that each grew from 0007.

Revision ID: 0009_merge
"""

revision = "0009_merge"
down_revision = ("0008_h9", "0008_h10", "0008_h12")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
