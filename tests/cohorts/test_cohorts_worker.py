"""With a real worker on a real broker: roster invitations reach the mailbox; large imports run in the background."""

from __future__ import annotations

import pytest

from learning.cohorts.models import RosterImport
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests import factories, factories_cohorts
from tests.conftest import wait_until
from tests.factories_cohorts import csv_bytes
from tests.support import body_text

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]
HEADER = "email,full_name,country,sector,organisation,language"


@pytest.fixture
def trainer_client(live_app):
    """A client of the publishing app, acting as the trainer of a fresh cohort."""
    with live_app.app_context():
        trainer = factories.trainer(full_name="Lucía Ramos")
        cohort = factories_cohorts.cohort(trainer, name="Bogotá 2025")
        token = factories.token(trainer)
        cohort_id = cohort.id
        db.session.remove()
    client = live_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client, cohort_id


def test_new_people_receive_their_invitation_by_e_mail(live_app, celery_worker, smtp, trainer_client):
    client, cohort_id = trainer_client
    response = client.post(f"/api/v1/cohorts/{cohort_id}/roster", headers={"Content-Type": "text/csv"}, data=csv_bytes(
        HEADER, "invitee.one@example.org,Ana Gómez,Colombia,education,,es",
        "invitee.two@example.org,Jean Dupont,Sénégal,justice,,fr"))
    assert response.status_code == 200 and response.get_json()["created"] == 2
    spanish = smtp.wait_for("invitee.one@example.org")[0]
    french = smtp.wait_for("invitee.two@example.org")[0]
    for message in (spanish, french):
        assert "/account/reset/" in body_text(message)
        assert "Bogotá 2025" in body_text(message)
    drain_outbox(live_app)


def test_a_large_roster_is_imported_by_the_worker_with_progress(live_app, celery_worker, trainer_client):
    client, cohort_id = trainer_client
    rows = [f"bulk{i}@example.org,Person {i},Kenya,health,Kenya Police,en" for i in range(200)]
    response = client.post(f"/api/v1/cohorts/{cohort_id}/roster?background=true",
                           headers={"Content-Type": "text/csv"}, data=csv_bytes(HEADER, *rows))
    assert response.status_code == 202
    status_url = response.get_json()["status_url"]
    job = wait_until(lambda: (lambda body: body if body["status"] == "done" else None)(client.get(status_url).get_json()),
                     timeout=90, message="the background import to finish")
    assert job["report"]["created"] == 200 and job["processed_rows"] == 200
    with live_app.app_context():
        assert db.session.query(Enrolment).filter_by(cohort_id=cohort_id).count() == 200
        assert db.session.query(RosterImport).one().content is None
        db.session.remove()
    drain_outbox(live_app)


def drain_outbox(live_app) -> None:
    """Let the worker finish the invitations before the next test empties the tables."""
    def drained() -> bool:
        with live_app.app_context():
            pending = db.session.query(OutboxEvent).filter_by(status="pending").count()
            db.session.remove()
        return pending == 0

    wait_until(drained, timeout=120, message="the outbox to drain")
