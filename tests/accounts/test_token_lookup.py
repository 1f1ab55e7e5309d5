"""The bearer token's look-up (helper "hotauth", docs/PERFORMANCE.md): one Core statement whose rows are
made into the request session's ``User``, ``UserRole`` and ``Organisation`` objects by hand.

Nothing is kept between requests, so whatever ends a token's power ends it on the very next request, in
every process: a revoked or expired token, a disabled or erased person, a role taken away. Requests here
run on a fresh session (as every request does under gunicorn), unless a test says otherwise: the
shared session of the other tests goes through the path that fills objects the session already holds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, inspect, select, update

from learning.accounts.models import ApiToken, Organisation, User, UserRole
from learning.extensions import db
from learning.models_base import utcnow
from tests.conftest import build_app
from tests.support import statements


@pytest.fixture
def other_process(base_config, app):
    """A second app on the same database: its own engine, pool and everything it might keep."""
    return build_app(base_config)


def request(app, token, method="GET", path="/api/v1/me", **kwargs):
    """One API request with the token, its session removed after it."""
    headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    db.session.remove()
    return response


def call(app, token, method="GET", path="/api/v1/me", **kwargs):
    """A request on a fresh session (the test's own objects are not in it)."""
    db.session.remove()
    return request(app, token, method, path, **kwargs)


def in_other(app, token, **kwargs):
    """A request to the other process (``other_process``)."""
    with app.app_context():
        return request(app, token, **kwargs)


def change(statement) -> None:
    """A change made elsewhere (another request, an admin's page, a task) and committed."""
    db.session.remove()
    db.session.execute(statement)
    db.session.commit()
    db.session.remove()


@pytest.fixture
def organisation(make):
    found = Organisation(name="Police Academy", country="KE", sector="law_enforcement")
    db.session.add(found)
    db.session.commit()
    return found


def unauthorized_body(app):
    return call(app, "lp_no-such-token").get_json()


def test_a_revoked_token_stops_on_the_next_request_in_every_process(app, other_process, make):
    learner = make.user()
    token = make.token(learner)
    token_id = db.session.scalar(select(ApiToken.id))
    assert call(app, token).status_code == 200
    assert in_other(other_process, token).status_code == 200
    assert call(app, token, "DELETE", f"/api/v1/me/tokens/{token_id}").status_code in (200, 204)
    refused = call(app, token)
    assert refused.status_code == 401 and refused.get_json() == unauthorized_body(app)
    assert in_other(other_process, token).status_code == 401


def test_an_expired_token_stops_on_the_next_request_in_every_process(app, other_process, make):
    token = make.token(make.user())
    assert call(app, token).status_code == 200 and in_other(other_process, token).status_code == 200
    change(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert call(app, token).status_code == 401
    assert in_other(other_process, token).status_code == 401


@pytest.mark.parametrize("column", ["active", "erased_at"])
def test_a_disabled_or_erased_persons_token_stops_at_once_and_nothing_remembers_the_refusal(
        app, other_process, make, column):
    learner = make.user()
    token = make.token(learner)  # left unrevoked on purpose: the person's own state decides
    user_id = learner.id
    assert call(app, token).status_code == 200 and in_other(other_process, token).status_code == 200
    ended = {"active": False} if column == "active" else {"erased_at": utcnow()}
    change(update(User).where(User.id == user_id).values(**ended))
    assert call(app, token).status_code == 401
    assert in_other(other_process, token).status_code == 401
    change(update(User).where(User.id == user_id).values(active=True, erased_at=None))
    assert call(app, token).status_code == 200 and in_other(other_process, token).status_code == 200


def test_a_removed_admin_role_is_refused_on_the_next_request_and_a_granted_one_works_at_once(
        app, other_process, make):
    boss = make.user(roles=("admin",))
    token = make.token(boss)
    boss_id = boss.id
    assert call(app, token, path="/api/v1/users").status_code == 200
    assert in_other(other_process, token, path="/api/v1/users").status_code == 200
    change(delete(UserRole).where(UserRole.user_id == boss_id, UserRole.role == "admin"))
    refused = call(app, token, path="/api/v1/users")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert in_other(other_process, token, path="/api/v1/users").status_code == 403
    assert call(app, token).get_json()["roles"] == ["learner"]
    change(UserRole.__table__.insert().values(user_id=boss_id, role="admin", granted_at=utcnow()))
    assert call(app, token, path="/api/v1/users").status_code == 200
    assert in_other(other_process, token, path="/api/v1/users").status_code == 200


def test_an_admin_changing_their_own_roles_through_the_api_changes_the_objects_the_token_made(
        app, make, organisation):
    """The caller's ``UserRole`` objects are made by hand: replacing them (delete-orphan) and adding one
    flush as for objects the ORM loaded."""
    boss = make.user(roles=("admin", "trainer"))
    token = make.token(boss)
    boss_id = boss.id
    patched = call(app, token, "PATCH", f"/api/v1/users/{boss_id}", json={"roles": ["admin", "org_manager"],
                                                                         "managed_organisations": [
                                                                             organisation.id]})
    assert patched.status_code == 200, patched.get_json()
    assert db.session.scalars(select(UserRole.role).where(UserRole.user_id == boss_id).order_by(
        UserRole.role)).all() == ["admin", "org_manager"]
    assert call(app, token).get_json()["roles"] == ["learner", "org_manager", "admin"]
    refused = call(app, token, "PATCH", f"/api/v1/users/{boss_id}", json={"roles": ["trainer"]})
    assert refused.status_code == 422  # "you cannot remove your own admin role": nothing changed
    assert sorted(db.session.scalars(select(UserRole.role).where(UserRole.user_id == boss_id))) == [
        "admin", "org_manager"]


def test_the_caller_is_a_user_of_the_requests_session_loaded_as_a_query_would(app, make, organisation):
    from learning.accounts.tokens import user_for_token

    person = make.user(roles=("trainer", "admin"))
    person.organisation_id = organisation.id
    db.session.commit()
    token, person_id, password_hash = make.token(person), person.id, person.password_hash
    db.session.remove()
    with app.test_request_context("/api/v1/me"), statements() as seen:
        try:
            user = user_for_token(token)
            assert isinstance(user, User) and inspect(user).persistent and user in db.session
            assert user is db.session.get(User, person_id)  # the session's one object for the person
            assert user.roles == ["learner", "trainer", "admin"] and user.is_admin
            assert all(inspect(row).persistent for row in user.role_rows)
            assert user.organisation.name == organisation.name
            assert user.country == "CO" and user.language == "en" and user.is_active
            assert not db.session.new and not db.session.dirty  # nothing to flush
            assert user_for_token(token) is user
            statements_so_far = len(seen)
            assert statements_so_far == 3  # the look-up twice and the first use's last_used_at
            assert user.password_hash == password_hash  # left out of the look-up: read when asked for
            assert len(seen) == statements_so_far + 1
            user.full_name = "Changed in this request"
            assert user_for_token(token).full_name == "Changed in this request"  # the session's, as the ORM
        finally:
            db.session.rollback()
            db.session.remove()


def test_objects_the_session_already_holds_are_filled_in_not_replaced(app, make):
    """The tests' shared session (and any caller that read the person first): the objects it holds are
    the ones returned, their expired attributes and roles filled from the token's row, in one statement."""
    from learning.accounts.tokens import user_for_token

    person = make.user(roles=("trainer",))
    token = make.token(person)
    db.session.commit()  # everything expired, as after any commit
    with app.test_request_context("/api/v1/me"), statements() as seen:
        found = user_for_token(token)
        first = len(seen)
        assert found is person and found.roles == ["learner", "trainer"] and found.full_name
        assert len(seen) == first  # filled from the token's statement: nothing read again


def test_unknown_and_empty_tokens_find_nobody(app, make):
    from learning.accounts.tokens import user_for_token

    make.token(make.user())
    with app.test_request_context("/api/v1/me"):
        assert user_for_token("") is None and user_for_token("lp_unknown") is None


@pytest.mark.parametrize("state", ["active", "disabled", "erasure requested", "erased", "erased but flagged active"])
def test_a_token_works_exactly_when_its_persons_account_is_active(app, make, state):
    """The token's look-up asks ``User.is_active``, the rule sign-in and the pages use: in every state an
    account can be in, the token works exactly when the person loaded by the ORM is active. The token is
    left unrevoked on purpose (the services end it too): here the person's own state decides. The hot
    routes' caller (``caller_for_token``, PostgreSQL) states the rule in its SQL: it must agree too."""
    from learning.accounts.privacy import request_erasure
    from learning.accounts.tokens import caller_for_token, user_for_token

    person = make.user()
    token, person_id = make.token(person), person.id
    if state == "erasure requested":  # the account locked until the erasure task runs
        request_erasure(person)
        db.session.flush()
        db.session.execute(update(ApiToken).values(revoked_at=None))
    elif state != "active":
        person.active = state == "erased but flagged active"
        person.erased_at = utcnow() if state.startswith("erased") else None
    db.session.commit()
    db.session.remove()
    with app.test_request_context("/api/v1/me"):
        found = user_for_token(token)
        db.session.remove()
        assert (found is not None) == db.session.get(User, person_id).is_active == (state == "active")
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            assert (caller_for_token(token) is not None) == (state == "active")
            db.session.rollback()
            db.session.remove()
