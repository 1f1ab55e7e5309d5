"""LTI Advantage, Assignment and Grade Services: the line item the tool found or created for a resource link
whose launch named none, and the last score each platform took for each person of each link.

Revision ID: 0011_ags
Revises: 0010_lti
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ags"
down_revision = "0010_lti"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lti_resource_links") as batch:
        batch.add_column(sa.Column("tool_lineitem", sa.Text(), nullable=True))
    op.create_table(
        "lti_score_deliveries",
        sa.Column("resource_link_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sent_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_rank", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["resource_link_id"], ["lti_resource_links.id"],
                                name=op.f("fk_lti_score_deliveries_resource_link_id_lti_resource_links"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lti_score_deliveries_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_link_id", "user_id", name=op.f("pk_lti_score_deliveries")),
    )
    op.create_index(op.f("ix_lti_score_deliveries_user_id"), "lti_score_deliveries", ["user_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_lti_score_deliveries_user_id"), table_name="lti_score_deliveries")
    op.drop_table("lti_score_deliveries")
    with op.batch_alter_table("lti_resource_links") as batch:
        batch.drop_column("tool_lineitem")
