"""Outbox: sent e-mails keep no address, text or signed link (data only, no schema change).

From now on a ``mail.send`` event keeps only its Message-ID once it is sent
(``handles(keep_when_done=...)`` in learning/outbox/services.py), so that erasure
(DESIGN.md rule 8) never has to search old mails. This empties the payloads of the
mails sent before that rule; mails not sent yet (pending, failed) are left as they are.

Revision ID: 0006_h1
Revises: 0005_reminders_index
"""

from alembic import op

revision = "0006_h1"
down_revision = "0005_reminders_index"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE outbox_events SET payload = '{}' WHERE event_type = 'mail.send' AND status = 'done'")


def downgrade():
    pass  # what was dropped is not kept anywhere to restore
