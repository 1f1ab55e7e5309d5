"""AGS: the ``timestamp`` last sent to the platform for a person of a resource link, beside the fact's own
time (``sent_timestamp``): Moodle compares timestamps in whole seconds, so a score within the same second
as the last one is sent at the next second, and the next score must be later than what was sent.

Revision ID: 0013_interop_score_stamp
Revises: 0012_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_interop_score_stamp"
down_revision = "0012_merge"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lti_score_deliveries") as batch:
        batch.add_column(sa.Column("sent_stamp", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("lti_score_deliveries") as batch:
        batch.drop_column("sent_stamp")
