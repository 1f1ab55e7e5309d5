"""Merge the heads of the second pass (trust, the house, the pages, speed).

Revision ID: 0007_merge
Revises: the 0006 heads below
"""

revision = "0007_merge"
down_revision = ("0006_h1", "0006_h2", "0006_h4", "0006_h6", "0006_h8")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
