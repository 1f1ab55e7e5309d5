"""Accounts: the organisations an ``org_manager`` manages (``managed_organisations`` in the API);
audit log: an index on the target, since sign-ins now fill it and the admin's person page asks it.

Revision ID: 0006_h6
Revises: 0005_reminders_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h6"
down_revision = "0005_reminders_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organisation_managers",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_organisation_managers_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_organisation_managers_organisation_id_organisations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "organisation_id", name=op.f("pk_organisation_managers")),
    )
    op.create_index(op.f("ix_organisation_managers_organisation_id"), "organisation_managers",
                    ["organisation_id"], unique=False)
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"], unique=False)


def downgrade():
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index(op.f("ix_organisation_managers_organisation_id"), table_name="organisation_managers")
    op.drop_table("organisation_managers")
