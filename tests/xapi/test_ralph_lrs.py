"""The platform's statements against an LRS that is not ours: Ralph (``ralph-malph[lrs]``, tests/ralph_lrs.py).

Our own test LRS (tests/xapi_lrs.py) checks the statements against our reading of xAPI 1.0.3; this
file checks them against Ralph's: every statement of every learning event, with the opaque
``account`` actor and with ``mbox``, is sent by the outbox handlers a worker runs, Ralph stores it
(its pydantic models validate it on the way in), it is read back through Ralph's
``GET /xAPI/statements``, and each one is validated again with Ralph's strict xAPI statement model
(``ralph.models.xapi.base.statements.BaseXapiStatement``, unknown properties forbidden) and with any
of Ralph's xAPI profile models whose selector matches it. A re-send (the answer was lost) is kept
once: Ralph answers 204 No Content for statements it has, and 409 Conflict only for a known id
with a different statement.
"""

from __future__ import annotations

from collections import Counter

import pytest
from ralph.exceptions import UnknownEventException
from ralph.models.selector import ModelSelector
from ralph.models.xapi.base.statements import BaseXapiStatement
from sqlalchemy import select

from learning.accounts.models import User
from learning.cohorts import sessions
from learning.extensions import db
from learning.xapi import services as xapi_services
from learning.xapi import statements as xs
from tests import factories_cohorts as cohorts
from tests.ralph_lrs import RalphLRS
from tests.xapi.test_xapi import journey, run_outbox, xapi_events


@pytest.fixture
def ralph(ralph_server, point_app_at):
    return point_app_at(ralph_server)


def ralph_validates(statement: dict) -> None:
    """Ralph's strict statement model, then every profile model of Ralph's that claims the statement."""
    BaseXapiStatement.model_validate(statement)
    try:
        models = list(ModelSelector(module="ralph.models.xapi").get_models(statement))
    except UnknownEventException:
        models = []  # no profile of Ralph's claims it: the base model is the whole check
    for model in models:
        model.model_validate(statement)


def pending_payloads() -> list[dict]:
    return [dict(e.payload) for e in xapi_events() if e.status != "done"]


def every_kind_of_statement(make) -> tuple[int, list[dict]]:
    """A whole journey (registered, a failed then a passed quiz, the lessons, the course, the
    certificate) and an attended session; the learner's id and the statements' payloads, unsent."""
    learner_id, _course_id, _enrolment_id = journey(make)
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort)
    member = cohorts.member(cohort)
    sessions.record_attendance(trainer.id, cohort, session, [member.user_id])
    db.session.commit()
    return learner_id, pending_payloads()


def stored_by_id(ralph: RalphLRS, ids) -> dict[str, dict]:
    wanted = set(ids)
    return {s["id"]: s for s in ralph.statements() if s["id"] in wanted}


@pytest.mark.parametrize("actor_mode", ["account", "mbox"])
def test_ralph_stores_every_statement_once_and_its_models_accept_each(app, app_context, make, ralph, actor_mode):
    app.config["XAPI_ACTOR"] = actor_mode
    lines_before = ralph.lines_stored()
    learner_id, payloads = every_kind_of_statement(make)
    ids = [p["statement_id"] for p in payloads]
    assert len(ids) == len(set(ids)) == 11  # the cohort member is registered too

    outcome = run_outbox()
    assert outcome == {"done-or-busy": 0, "batched": 11}
    assert all(e.status == "done" for e in xapi_events())
    stored = stored_by_id(ralph, ids)
    assert set(stored) == set(ids)
    assert ralph.lines_stored() == lines_before + 11
    verbs = Counter(s["verb"]["id"] for s in stored.values())
    assert verbs == Counter({xs.VERBS["registered"]: 2, xs.VERBS["completed"]: 3, xs.VERBS["attempted"]: 2,
                             xs.VERBS["failed"]: 1, xs.VERBS["passed"]: 1, xs.VERBS["earned"]: 1,
                             xs.VERBS["attended"]: 1})
    for payload in payloads:
        sent = payload["statement"]
        kept = stored[sent["id"]]
        ralph_validates(kept)
        # Ralph keeps what was sent (adding only "stored" and "authority").
        for key in ("verb", "object", "context"):
            assert kept[key] == sent[key], key
        assert kept["timestamp"].startswith(sent["timestamp"][:19])
        assert kept.get("result") == sent.get("result")
        assert set(kept) - set(sent) <= {"actor", "stored", "authority"}
    learner_statements = [stored[p["statement_id"]] for p in payloads if p["user_id"] == learner_id]
    assert len(learner_statements) == 9
    actors = {repr(s["actor"]) for s in learner_statements}
    assert len(actors) == 1
    actor = learner_statements[0]["actor"]
    if actor_mode == "account":
        assert actor == {"objectType": "Agent",
                         "account": {"homePage": "http://127.0.0.1:5000", "name": xs.opaque_id(learner_id)}}
        assert "@" not in repr(stored)
    else:
        assert actor == {"objectType": "Agent", "mbox": "mailto:ana.learner@example.org"}

    # The answer was lost and the whole batch is sent again: Ralph answers 204 and stores nothing new.
    emails = dict(db.session.execute(select(User.id, User.email).where(
        User.id.in_({p["user_id"] for p in payloads}))).all())
    again = [{**p["statement"], "actor": xs.actor_for(p["user_id"], emails[p["user_id"]])} for p in payloads]
    assert xapi_services._post(again) == 204
    xapi_services.send_statements(payloads)
    for payload in payloads[:3]:
        xapi_services.send_one(payload)
    assert ralph.lines_stored() == lines_before + 11
    assert set(stored_by_id(ralph, ids)) == set(ids)


def test_a_batch_of_known_and_new_statements_stores_only_the_new(app_context, make, ralph):
    make.enrolment(make.user(), make.course())
    first = pending_payloads()
    run_outbox()
    lines = ralph.lines_stored()
    make.enrolment(make.user(), make.course())
    second = [p for p in pending_payloads() if p["statement_id"] != first[0]["statement_id"]]
    xapi_services.send_statements(first + second)  # Ralph: 200 with the new id only
    assert ralph.lines_stored() == lines + 1
    assert set(stored_by_id(ralph, [first[0]["statement_id"], second[0]["statement_id"]])) == {
        first[0]["statement_id"], second[0]["statement_id"]}


def test_a_known_id_with_a_different_statement_is_a_409_and_ralph_keeps_the_first(app, app_context, make, ralph,
                                                                                   caplog):
    """The actor changed between two sends (the partner switched XAPI_ACTOR): Ralph answers 409
    Conflict, the platform takes the statement as delivered (sending it again can never succeed)
    and Ralph's copy is not overwritten."""
    make.enrolment(make.user(email="cleo@example.org"))
    (payload,) = pending_payloads()
    run_outbox()
    app.config["XAPI_ACTOR"] = "mbox"
    statement = {**payload["statement"], "actor": xs.actor_for(payload["user_id"], "cleo@example.org")}
    assert xapi_services._post([statement]) == 409
    with caplog.at_level("WARNING", logger="learning.xapi.services"):
        xapi_services.send_one(payload)  # counts as delivered: no exception, so the outbox marks it done
    assert f"holds another statement under id {payload['statement_id']}" in caplog.text
    (kept,) = stored_by_id(ralph, [payload["statement_id"]]).values()
    assert "account" in kept["actor"] and "mbox" not in kept["actor"]


def test_ralph_refuses_the_wrong_password_and_the_platform_says_so(app, app_context, make, ralph):
    make.enrolment(make.user())
    (payload,) = pending_payloads()
    app.config["XAPI_PASSWORD"] = "not-the-password"
    with pytest.raises(xapi_services.XapiDeliveryError, match="LRS answered 401") as refused:
        xapi_services.send_one(payload)
    assert refused.value.transient is False
    app.config["XAPI_PASSWORD"] = ralph.password
    xapi_services.send_one(payload)
    assert set(stored_by_id(ralph, [payload["statement_id"]])) == {payload["statement_id"]}


def test_ralph_itself_refuses_what_the_spec_forbids():
    """Ralph is a real check: a statement our builder must never make is refused by its model."""
    good = {"id": "0b8f5f0e-5b1e-5a8f-9f3c-2b9c4b8f3a11",
            "actor": {"objectType": "Agent", "account": {"homePage": "https://x.org", "name": "a"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
            "object": {"objectType": "Activity", "id": "https://x.org/course/1"},
            "timestamp": "2026-01-02T03:04:05.000Z"}
    ralph_validates(good)
    for bad in ({**good, "actor": {"mbox": "ana@example.org"}},
                {**good, "verb": {"id": "completed"}},
                {**good, "result": {"score": {"scaled": 2}}},
                {**good, "context": {"registration": "x"}},
                {**good, "surprise": 1}):
        with pytest.raises(ValueError):
            ralph_validates(bad)
