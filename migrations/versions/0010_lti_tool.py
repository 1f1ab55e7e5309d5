"""LTI 1.3 tool: platforms and deployments, identities, contexts (NRPS) and their cohorts, resource links
(AGS) and who launched them, login states (state + nonce, used once), the tool's RSA keys.

Revision ID: 0010_lti
Revises: 0009_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_lti"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def _when(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("auth_login_url", sa.Text(), nullable=False),
        sa.Column("auth_token_url", sa.Text(), nullable=False),
        sa.Column("auth_token_audience", sa.Text(), nullable=True),
        sa.Column("key_set_url", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("instructors_are_trainers", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_lti_platforms_organisation_id_organisations"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer_client_id")),
    )
    op.create_index(op.f("ix_lti_platforms_organisation_id"), "lti_platforms", ["organisation_id"], unique=False)
    op.create_table(
        "lti_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                name=op.f("fk_lti_deployments_platform_id_lti_platforms"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_deployments")),
        sa.UniqueConstraint("platform_id", "deployment_id", name=op.f("uq_lti_deployments_platform_id_deployment_id")),
    )
    op.create_index(op.f("ix_lti_deployments_platform_id"), "lti_deployments", ["platform_id"], unique=False)
    op.create_table(
        "lti_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("last_launch_at", nullable=True),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                name=op.f("fk_lti_identities_platform_id_lti_platforms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lti_identities_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_identities")),
        sa.UniqueConstraint("platform_id", "subject", name=op.f("uq_lti_identities_platform_id_subject")),
    )
    op.create_index(op.f("ix_lti_identities_user_id"), "lti_identities", ["user_id"], unique=False)
    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("memberships_url", sa.Text(), nullable=True),
        sa.Column("nrps_versions", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                name=op.f("fk_lti_contexts_platform_id_lti_platforms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deployment_id"], ["lti_deployments.id"],
                                name=op.f("fk_lti_contexts_deployment_id_lti_deployments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_contexts")),
        sa.UniqueConstraint("deployment_id", "context_id", name=op.f("uq_lti_contexts_deployment_id_context_id")),
    )
    op.create_index(op.f("ix_lti_contexts_platform_id"), "lti_contexts", ["platform_id"], unique=False)
    op.create_table(
        "lti_context_cohorts",
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["context_id"], ["lti_contexts.id"],
                                name=op.f("fk_lti_context_cohorts_context_id_lti_contexts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"],
                                name=op.f("fk_lti_context_cohorts_course_id_courses"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohorts.id"],
                                name=op.f("fk_lti_context_cohorts_cohort_id_cohorts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("context_id", "course_id", name=op.f("pk_lti_context_cohorts")),
    )
    op.create_index(op.f("ix_lti_context_cohorts_cohort_id"), "lti_context_cohorts", ["cohort_id"], unique=False)
    op.create_table(
        "lti_resource_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("ags_lineitems", sa.Text(), nullable=True),
        sa.Column("ags_lineitem", sa.Text(), nullable=True),
        sa.Column("ags_scopes", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                name=op.f("fk_lti_resource_links_platform_id_lti_platforms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deployment_id"], ["lti_deployments.id"],
                                name=op.f("fk_lti_resource_links_deployment_id_lti_deployments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["context_id"], ["lti_contexts.id"],
                                name=op.f("fk_lti_resource_links_context_id_lti_contexts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"],
                                name=op.f("fk_lti_resource_links_course_id_courses"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_resource_links")),
        sa.UniqueConstraint("deployment_id", "resource_link_id",
                            name=op.f("uq_lti_resource_links_deployment_id_resource_link_id")),
    )
    op.create_index(op.f("ix_lti_resource_links_platform_id"), "lti_resource_links", ["platform_id"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_context_id"), "lti_resource_links", ["context_id"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_course_id"), "lti_resource_links", ["course_id"], unique=False)
    op.create_table(
        "lti_link_members",
        sa.Column("resource_link_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        _when("first_launch_at"),
        _when("last_launch_at"),
        sa.ForeignKeyConstraint(["resource_link_id"], ["lti_resource_links.id"],
                                name=op.f("fk_lti_link_members_resource_link_id_lti_resource_links"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lti_link_members_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["identity_id"], ["lti_identities.id"],
                                name=op.f("fk_lti_link_members_identity_id_lti_identities"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_link_id", "user_id", name=op.f("pk_lti_link_members")),
    )
    op.create_index(op.f("ix_lti_link_members_user_id"), "lti_link_members", ["user_id"], unique=False)
    op.create_index(op.f("ix_lti_link_members_identity_id"), "lti_link_members", ["identity_id"], unique=False)
    op.create_table(
        "lti_login_states",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("login_hint", sa.Text(), nullable=False),
        sa.Column("message_hint", sa.Text(), nullable=True),
        sa.Column("target_link_uri", sa.Text(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                name=op.f("fk_lti_login_states_platform_id_lti_platforms"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_lti_login_states")),
        sa.UniqueConstraint("nonce", name=op.f("uq_lti_login_states_nonce")),
    )
    op.create_index(op.f("ix_lti_login_states_platform_id"), "lti_login_states", ["platform_id"], unique=False)
    op.create_index(op.f("ix_lti_login_states_expires_at"), "lti_login_states", ["expires_at"], unique=False)
    op.create_table(
        "lti_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        _when("created_at"),
        _when("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_lti_keys_kid")),
    )


def downgrade():
    op.drop_table("lti_keys")
    op.drop_index(op.f("ix_lti_login_states_expires_at"), table_name="lti_login_states")
    op.drop_index(op.f("ix_lti_login_states_platform_id"), table_name="lti_login_states")
    op.drop_table("lti_login_states")
    op.drop_index(op.f("ix_lti_link_members_identity_id"), table_name="lti_link_members")
    op.drop_index(op.f("ix_lti_link_members_user_id"), table_name="lti_link_members")
    op.drop_table("lti_link_members")
    op.drop_index(op.f("ix_lti_resource_links_course_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_context_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_platform_id"), table_name="lti_resource_links")
    op.drop_table("lti_resource_links")
    op.drop_index(op.f("ix_lti_context_cohorts_cohort_id"), table_name="lti_context_cohorts")
    op.drop_table("lti_context_cohorts")
    op.drop_index(op.f("ix_lti_contexts_platform_id"), table_name="lti_contexts")
    op.drop_table("lti_contexts")
    op.drop_index(op.f("ix_lti_identities_user_id"), table_name="lti_identities")
    op.drop_table("lti_identities")
    op.drop_index(op.f("ix_lti_deployments_platform_id"), table_name="lti_deployments")
    op.drop_table("lti_deployments")
    op.drop_index(op.f("ix_lti_platforms_organisation_id"), table_name="lti_platforms")
    op.drop_table("lti_platforms")
