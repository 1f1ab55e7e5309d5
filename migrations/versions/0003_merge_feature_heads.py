"""Merge the feature branches of the schema (cohorts, reminders, reporting) into one head.

Revision ID: 0003_merge
Revises: 0002_cohorts, 0002_reminders, 0002_reporting
"""

revision = "0003_merge"
down_revision = ("0002_cohorts", "0002_reminders", "0002_reporting")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
