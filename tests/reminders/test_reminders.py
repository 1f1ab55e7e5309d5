"""Reminders reach a real SMTP server once, combined, in the learner's language, by day where they live."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from learning.extensions import db
from learning.reminders import delivery, services
from learning.reminders.models import ReminderDigest, ReminderSent
from tests import factories_reminders as remind
from tests.factories_reminders import NOW
from tests.support import body_text


def run(now) -> list[int]:
    """What a beat run and its worker tasks do, at ``now``; the digests it tried to send."""
    services.plan(now)
    ids = services.take_due_digests(now)
    delivery.send_digests(ids, now)
    return ids


def html_text(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


@pytest.fixture
def course(make):
    return make.course()


def test_idle_learner_is_reminded_once_per_threshold_in_their_language(make, smtp, course):
    ana = remind.learner(language="es", timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=course)

    run(NOW)
    run(NOW)  # a re-run
    run(NOW + timedelta(days=1))  # the next day: the 7-day occasion is spent

    [message] = smtp.wait_for(ana.email)
    assert message["Content-Language"] == "es"
    assert f"/courses/{course.slug}" in body_text(message)
    assert f"/courses/{course.slug}" in html_text(message)
    assert "7" in body_text(message)

    run(NOW + timedelta(days=14))  # 22 days without progress
    messages = smtp.wait_for(ana.email, count=2)
    assert len(messages) == 2 and "21" in body_text(messages[1])
    run(NOW + timedelta(days=15))
    assert len(smtp.to(ana.email)) == 2


def test_each_learner_gets_their_own_language(make, smtp, course):
    by_language = {lang: remind.learner(language=lang, timezone="Europe/Paris") for lang in ("fr", "pt", "en")}
    for person in by_language.values():
        remind.idle_enrolment(person, idle_since=NOW - timedelta(days=9), of_course=course)

    run(NOW)

    for lang, person in by_language.items():
        [message] = smtp.wait_for(person.email)
        assert message["Content-Language"] == lang
        assert f'lang="{lang}"' in html_text(message)


def test_reminders_due_together_arrive_in_one_message_with_their_links(make, smtp):
    li = remind.learner(language="en", timezone="Europe/London")
    idle_course, renew_course, new_course = make.course(), make.course(), make.course()
    remind.idle_enrolment(li, idle_since=NOW - timedelta(days=10), of_course=idle_course)
    expiring = remind.certificate(li, issued_at=NOW - timedelta(days=700), expires_at=NOW + timedelta(days=25),
                                  of_course=renew_course)
    issued = remind.certificate(li, issued_at=NOW - timedelta(hours=3), of_course=new_course)

    run(NOW)

    [message] = smtp.wait_for(li.email)
    text = body_text(message)
    assert f"/courses/{idle_course.slug}" in text
    assert f"/courses/{renew_course.slug}" in text  # the re-enrol link
    assert f"/verify/{issued.code}" in text and f"/certificates/{issued.code}.pdf" in text
    assert "expires on" in text
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:5000/reminders/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    logged = db.session.scalars(select(ReminderSent).where(ReminderSent.user_id == li.id)).all()
    assert {row.rule for row in logged} == {"inactivity", "certificate_expiring", "certificate_issued"}
    assert {row.status for row in logged} == {"sent"}
    assert {row.occasion for row in logged if row.rule == "certificate_expiring"} == {
        f"certificate:{expiring.id}:expiring:30d"}


def test_at_most_one_message_a_day_and_later_reminders_wait_for_the_next_day(make, smtp, course):
    li = remind.learner(language="en", timezone="Europe/Madrid")
    remind.idle_enrolment(li, idle_since=NOW - timedelta(days=8), of_course=course)
    run(NOW)
    smtp.wait_for(li.email)

    later = NOW + timedelta(hours=3)  # 16:00 in Madrid, the same day
    certificate = remind.certificate(li, issued_at=later - timedelta(minutes=30))
    run(later)
    assert len(smtp.to(li.email)) == 1

    run(NOW + timedelta(hours=12))  # midnight in Madrid: night, nothing
    assert len(smtp.to(li.email)) == 1
    run(NOW + timedelta(hours=21))  # 09:00 the next day in Madrid
    messages = smtp.wait_for(li.email, count=2)
    assert f"/verify/{certificate.code}" in body_text(messages[1])
    assert "/courses/" not in body_text(messages[1])  # the inactivity reminder is not repeated


def test_nothing_is_sent_at_night_where_the_learner_lives(make, smtp, course):
    kenji = remind.learner(language="en", timezone="Asia/Tokyo")
    remind.idle_enrolment(kenji, idle_since=NOW - timedelta(days=8), of_course=course)

    run(NOW)  # 21:00 in Tokyo
    run(NOW + timedelta(hours=10))  # 07:00 in Tokyo
    assert smtp.to(kenji.email) == []
    assert db.session.scalar(select(ReminderSent.id)) is None  # nothing even claimed

    run(NOW + timedelta(hours=11, minutes=15))  # 08:15 in Tokyo
    [message] = smtp.wait_for(kenji.email)
    assert message["Content-Language"] == "en"


def test_a_digest_delayed_into_the_night_waits_for_the_next_morning(make, smtp, course):
    ana = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=course)
    evening = NOW.replace(hour=18, minute=50)  # 19:50 in Madrid
    services.plan(evening)
    [digest_id] = services.take_due_digests(evening)

    night = NOW.replace(hour=19, minute=10)  # the worker gets to it at 20:10 in Madrid
    delivery.send_digests([digest_id], night)
    assert smtp.to(ana.email) == []
    assert services.take_due_digests(NOW.replace(hour=23)) == []

    morning = NOW.replace(hour=7) + timedelta(days=1)  # 08:00 in Madrid
    assert run(morning) == [digest_id]
    assert len(smtp.wait_for(ana.email)) == 1


def test_nobody_who_finished_left_was_disabled_erased_or_opted_out_is_reminded(make, smtp, course):
    idle = NOW - timedelta(days=8)
    finished = remind.learner()
    make.completed_enrolment(finished, course)
    left = remind.learner()
    from learning.enrolment.services import withdraw

    withdraw(remind.idle_enrolment(left, idle_since=idle, of_course=course))
    db.session.commit()
    disabled, erased, opted_out = remind.learner(), remind.learner(), remind.learner()
    for person in (disabled, erased, opted_out):
        remind.idle_enrolment(person, idle_since=idle, of_course=course)
        remind.certificate(person, issued_at=NOW - timedelta(hours=2))
    remind.set_user(disabled, active=False)
    remind.set_user(erased, erased_at=NOW - timedelta(days=1))
    remind.set_user(opted_out, reminders_enabled=False)

    run(NOW)
    run(NOW + timedelta(days=30))

    for person in (finished, left, disabled, erased, opted_out):
        assert smtp.to(person.email) == []
    assert db.session.scalar(select(ReminderSent.id)) is None


def test_a_reminder_claimed_before_completion_or_opt_out_is_cancelled_not_sent(make, smtp, course):
    done_meanwhile, opted_meanwhile = remind.learner(), remind.learner()
    enrolment = remind.idle_enrolment(done_meanwhile, idle_since=NOW - timedelta(days=8), of_course=course)
    remind.idle_enrolment(opted_meanwhile, idle_since=NOW - timedelta(days=8), of_course=course)
    services.plan(NOW)

    from learning.enrolment.services import mark_completed

    mark_completed(enrolment)
    remind.set_user(opted_meanwhile, reminders_enabled=False)
    db.session.commit()
    delivery.send_digests(services.take_due_digests(NOW), NOW)

    assert smtp.to(done_meanwhile.email) == [] and smtp.to(opted_meanwhile.email) == []
    assert set(db.session.scalars(select(ReminderSent.status))) == {"cancelled"}
    assert set(db.session.scalars(select(ReminderDigest.status))) == {"cancelled"}


def test_cohort_ending_reminds_members_not_yet_complete(make, smtp):
    course = make.course()
    ending = remind.cohort(course, ends_on=date(2031, 3, 15), name="Policía Bogotá 2031")
    behind, ahead = remind.learner(language="es"), remind.learner(language="es")
    remind.idle_enrolment(behind, idle_since=NOW - timedelta(days=1), of_course=course, cohort=ending)
    member = remind.idle_enrolment(ahead, idle_since=NOW - timedelta(days=1), of_course=course, cohort=ending)
    from learning.enrolment.services import mark_completed

    mark_completed(member)
    db.session.commit()

    run(NOW)
    run(NOW + timedelta(days=1))

    [message] = smtp.wait_for(behind.email)
    assert "Policía Bogotá 2031" in body_text(message)
    assert message["Content-Language"] == "es"
    assert smtp.to(ahead.email) == []


def test_a_cohort_ending_later_than_the_window_is_not_yet_reminded(make, smtp):
    course = make.course()
    later = remind.cohort(course, ends_on=date(2031, 4, 30))
    person = remind.learner()
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=1), of_course=course, cohort=later)
    run(NOW)
    assert smtp.to(person.email) == []


def test_certificate_expiry_reminders_come_at_60_30_and_7_days_and_stop_after_renewal(make, smtp):
    course = make.course()
    holder = remind.learner(language="en", timezone="UTC")
    remind.certificate(holder, issued_at=NOW - timedelta(days=700), expires_at=NOW + timedelta(days=59),
                       of_course=course)
    for day in (0, 1, 29, 30, 52, 53):  # 59, 58, 30, 29, 7 and 6 days before expiry
        run(NOW + timedelta(days=day))
    messages = smtp.wait_for(holder.email, count=3)
    assert len(messages) == 3
    occasions = db.session.scalars(select(ReminderSent.occasion).order_by(ReminderSent.id)).all()
    assert [o.rsplit(":", 1)[1] for o in occasions] == ["60d", "30d", "7d"]

    renewing = remind.learner(timezone="UTC")
    remind.certificate(renewing, issued_at=NOW - timedelta(days=700), expires_at=NOW + timedelta(days=20),
                       of_course=course)
    remind.renewal(renewing, course, enrolled_at=NOW + timedelta(days=1))
    revoked = remind.learner(timezone="UTC")
    remind.certificate(revoked, issued_at=NOW - timedelta(days=700), expires_at=NOW + timedelta(days=20),
                       revoked=True)
    run(NOW + timedelta(days=2))
    assert smtp.to(renewing.email) == [] and smtp.to(revoked.email) == []


def test_an_old_certificate_is_not_announced_as_new(make, smtp):
    old = remind.learner()
    remind.certificate(old, issued_at=NOW - timedelta(days=200))
    run(NOW)
    assert smtp.to(old.email) == []


def test_invited_people_who_never_chose_a_password_get_one_follow_up_per_threshold(make, smtp):
    course = make.course()
    cohort = remind.cohort(course, ends_on=date(2031, 9, 1), name="Ministère de l'Éducation")
    waiting = remind.invited(cohort, sent_at=NOW - timedelta(days=4), language="fr")
    fresh = remind.invited(cohort, sent_at=NOW - timedelta(hours=5))
    joined = remind.invited(cohort, sent_at=NOW - timedelta(days=4))
    remind.set_user(joined, password_hash="set-by-the-reset-page")

    run(NOW)
    run(NOW + timedelta(days=1))

    [message] = smtp.wait_for(waiting.email)
    assert message["Content-Language"] == "fr"
    assert "/account/reset/" in body_text(message)
    assert "Ministère de l'Éducation" in body_text(message)
    # Freshly invited people already have the cohorts feature's invitation: no second one.
    assert smtp.to(fresh.email) == [] and smtp.to(joined.email) == []


def test_the_follow_up_link_lets_the_invited_person_choose_a_password(make, smtp, client):
    cohort = remind.cohort(make.course(), ends_on=date(2031, 9, 1))
    waiting = remind.invited(cohort, sent_at=NOW - timedelta(days=4), language="en")
    run(NOW)

    text = body_text(smtp.wait_for(waiting.email)[0])
    link = next(line for line in text.splitlines() if "/account/reset/" in line).strip()
    path = link.split("127.0.0.1:5000", 1)[1]
    response = client.post(path, data={"password": "Another-good-Passw0rd!", "confirm": "Another-good-Passw0rd!"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/login")
