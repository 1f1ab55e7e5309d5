"""Single sign-on: identity providers per organisation, routed domains, identities, replay cache.

Revision ID: 0008_h10
Revises: 0007_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_h10"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sso_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=True),
        sa.Column("trust_email", sa.Boolean(), nullable=False),
        sa.Column("role_groups", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_sso_providers_organisation_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_providers")),
        sa.UniqueConstraint("slug", name=op.f("uq_sso_providers_slug")),
    )
    op.create_index(op.f("ix_sso_providers_organisation_id"), "sso_providers", ["organisation_id"], unique=False)
    op.create_table(
        "sso_domains",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["sso_providers.id"],
                                name=op.f("fk_sso_domains_provider_id_sso_providers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_sso_domains")),
    )
    op.create_index(op.f("ix_sso_domains_provider_id"), "sso_domains", ["provider_id"], unique=False)
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["sso_providers.id"],
                                name=op.f("fk_sso_identities_provider_id_sso_providers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sso_identities_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identities")),
        sa.UniqueConstraint("provider_id", "subject", name=op.f("uq_sso_identities_provider_id_subject")),
    )
    op.create_index(op.f("ix_sso_identities_user_id"), "sso_identities", ["user_id"], unique=False)
    op.create_table(
        "sso_replays",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sso_replays")),
    )
    op.create_index(op.f("ix_sso_replays_expires_at"), "sso_replays", ["expires_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_sso_replays_expires_at"), table_name="sso_replays")
    op.drop_table("sso_replays")
    op.drop_index(op.f("ix_sso_identities_user_id"), table_name="sso_identities")
    op.drop_table("sso_identities")
    op.drop_index(op.f("ix_sso_domains_provider_id"), table_name="sso_domains")
    op.drop_table("sso_domains")
    op.drop_index(op.f("ix_sso_providers_organisation_id"), table_name="sso_providers")
    op.drop_table("sso_providers")
