"""Realistic demo data: multilingual courses, professionals in 30+ countries, cohorts, completions.

The courses (learning/demo_content.py) are written in all five interface languages, down to
each lesson, question and answer.

Built through the same services the site uses, so demo data obeys every rule
(snapshots at enrolment, completion events in the outbox). Dates are then
spread over the last three years so that the statistics have a history.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import click
from flask import current_app
from sqlalchemy import func, select

from learning.accounts.models import User, UserRole
from learning.accounts.passwords import hash_password
from learning.accounts.services import find_or_create_organisation
from learning.catalogue.models import Course
from learning.catalogue.services import all_lessons, create_course, publish_course
from learning.cohorts.models import Cohort, CohortTrainer
from learning.demo_content import course_specs
from learning.enrolment import services as enrolment
from learning.extensions import db
from learning.i18n import SECTORS
from learning.models_base import utcnow

COUNTRIES = [
    ("CO", "es"), ("MX", "es"), ("PE", "es"), ("AR", "es"), ("ES", "es"), ("GT", "es"), ("CL", "es"),
    ("BR", "pt"), ("PT", "pt"), ("MZ", "pt"), ("AO", "pt"),
    ("FR", "fr"), ("SN", "fr"), ("CI", "fr"), ("MA", "fr"), ("CM", "fr"), ("BE", "fr"),
    ("JO", "ar"), ("EG", "ar"), ("LB", "ar"), ("TN", "ar"), ("IQ", "ar"),
    ("GB", "en"), ("US", "en"), ("KE", "en"), ("NG", "en"), ("PH", "en"), ("IN", "en"), ("ZA", "en"),
    ("RO", "en"), ("UA", "en"), ("TH", "en"), ("GH", "en"), ("UG", "en"), ("AU", "en"),
]

FIRST = ["Ana", "Luis", "María", "João", "Fatima", "Omar", "Chloé", "Amadou", "Grace", "Peter", "Ioana",
         "Olena", "Somchai", "Aisha", "Carlos", "Lucía", "Mohammed", "Layla", "Pierre", "Nadia", "Kwame",
         "Priya", "Rafael", "Beatriz", "Yusuf", "Mariam", "Thomas", "Sofia", "Daniel", "Amina"]
LAST = ["García", "Silva", "Haddad", "Diallo", "Okafor", "Dubois", "Popescu", "Kovalenko", "Santos",
        "Mensah", "Rahman", "Martínez", "Mansour", "Ndiaye", "Smith", "Pereira", "Khalil", "Rossi",
        "Mwangi", "Fernández", "Nasser", "Bakr", "Moreau", "Reyes", "Costa", "Otieno", "Ionescu"]

ORGANISATIONS = {
    "law_enforcement": ["National Police Academy", "Cybercrime Unit", "Border Police Training Centre"],
    "justice": ["Judicial Training School", "Office of the Public Prosecutor"],
    "education": ["Ministry of Education", "Teachers' Union"],
    "health": ["National Health Service", "Paediatric Association"],
    "social_services": ["Child Welfare Agency", "Family Services Department"],
    "financial": ["Banking Association", "Financial Intelligence Unit"],
    "technology": ["Online Safety Alliance", "Trust and Safety Network"],
    "government": ["Ministry of Interior", "National Child Protection Council"],
    "civil_society": ["Children's Rights Network", "Safe Childhood Foundation"],
    "academia": ["University Law Faculty", "Institute of Criminology"],
    "other": ["Independent consultants"],
}


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Course))


def _make_user(rng: random.Random, email: str, name: str, country: str, sector: str, language: str,
               roles: tuple[str, ...] = (), password: str | None = None) -> User:
    org_name = rng.choice(ORGANISATIONS[sector])
    org = find_or_create_organisation(f"{org_name} ({country})", country, sector)
    user = User(email=email, full_name=name, country=country, sector=sector, language=language,
                organisation=org, password_hash=hash_password(password) if password else None,
                email_verified_at=utcnow())
    user.role_rows = [UserRole(role=r) for r in roles]
    db.session.add(user)
    return user


def _at(day: date, rng: random.Random) -> datetime:
    """A time during the working day of ``day`` (UTC)."""
    return datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=UTC)


def _enrolled_at(rng: random.Random, cohort: Cohort | None) -> datetime:
    """Members of a cohort enrol in the fortnight before it starts; others any time in the last three years."""
    if cohort is None:
        return utcnow() - timedelta(days=rng.randint(5, 1000), hours=rng.randint(0, 23))
    return min(utcnow(), _at(cohort.starts_on - timedelta(days=rng.randint(0, 14)), rng))


def _completed_at(rng: random.Random, cohort: Cohort | None, enrolled_at: datetime) -> datetime:
    """A cohort's members finish while it runs (or within a week of its end); others within two months."""
    if cohort is None:
        return min(utcnow(), enrolled_at + timedelta(days=rng.randint(1, 60)))
    span = (cohort.ends_on - cohort.starts_on).days + 7
    return max(enrolled_at, min(utcnow(), _at(cohort.starts_on + timedelta(days=rng.randint(0, span)), rng)))


def seed_demo(learners: int = 400, seed: int = 2026, progress: bool = False, certificates: bool = True) -> dict:
    """Create the demo data set and return counts of what was made.

    ``certificates``: issue the demo's certificates here, through the outbox's own batch handling
    (``issue_demo_certificates``), instead of leaving ~290 completion events for the worker: a newcomer
    who finishes a course right after ``make run`` then waits for no backlog. Without it the events
    are published as usual and the worker issues them.
    """
    if certificates:
        publishing = current_app.config.get("OUTBOX_PUBLISH", True)
        current_app.config["OUTBOX_PUBLISH"] = False  # the events are handled below, not by the worker
        try:
            made = seed_demo(learners, seed, progress, certificates=False)
        finally:
            current_app.config["OUTBOX_PUBLISH"] = publishing
        made["certificates"] = issue_demo_certificates(progress)
        return made
    rng = random.Random(seed)
    admin = _make_user(rng, "admin@demo.learning", "Demo Admin", "GB", "civil_society", "en",
                       ("admin",), "demo-admin-password")
    trainers = [
        _make_user(rng, "trainer@demo.learning", "Carmen Rojas", "CO", "law_enforcement", "es",
                   ("trainer",), "demo-trainer-password"),
        _make_user(rng, "trainer2@demo.learning", "Jean Mbeki", "SN", "justice", "fr",
                   ("trainer",), "demo-trainer-password"),
    ]
    db.session.flush()
    courses = []
    for spec in course_specs():
        course = create_course(admin.id, spec)
        publish_course(admin.id, course)
        courses.append(course)
    db.session.flush()

    today = date.today()
    cohorts = []
    for i, (country, _lang) in enumerate(COUNTRIES[:12]):
        start = today - timedelta(days=rng.randint(30, 900))
        cohort = Cohort(course_id=courses[i % 2].id, name=f"{country} cohort {start.year}-{i + 1}",
                        country=country, delivery=rng.choice(["online", "in_person", "blended"]),
                        starts_on=start, ends_on=start + timedelta(days=rng.randint(2, 30)),
                        capacity=60, created_by_id=admin.id)
        cohort.trainers = [CohortTrainer(user_id=trainers[i % 2].id)]
        cohorts.append(cohort)
        db.session.add(cohort)
    db.session.flush()

    sectors = list(SECTORS)
    made = {"enrolments": 0, "completions": 0}
    people = range(learners)
    bar = click.progressbar(people, label="Seeding professionals") if progress else None
    iterator = bar.__enter__() if bar else people
    try:
        for n in iterator:
            country, language = COUNTRIES[n % len(COUNTRIES)]
            sector = sectors[n % len(sectors)]
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            user = _make_user(rng, f"learner{n + 1}@demo.learning", name, country, sector, language,
                              password="demo-learner-password" if n < 5 else None)
            db.session.flush()
            for course in rng.sample(courses, k=rng.randint(1, 3)):
                if course.sectors and sector not in course.sectors and rng.random() < 0.7:
                    continue
                cohort = next((c for c in cohorts if c.country == country and c.course_id == course.id), None)
                item = enrolment.enrol(user, course, cohort_id=cohort.id if cohort else None)
                made["enrolments"] += 1
                enrolled_at = _enrolled_at(rng, cohort)
                item.enrolled_at = enrolled_at
                if rng.random() < 0.65:
                    for lesson in all_lessons(course):
                        enrolment.complete_lesson(item, lesson.id)
                    if course.quiz is not None and item.status == "active":
                        answers = {str(q.id): next(c.id for c in q.choices if c.correct) for q in course.quiz.questions}
                        enrolment.submit_quiz(item, answers)
                    if item.status == "completed":
                        item.completed_at = _completed_at(rng, cohort, enrolled_at)
                        made["completions"] += 1
                elif rng.random() < 0.3:
                    enrolment.complete_lesson(item, all_lessons(course)[0].id)
                item.last_activity_at = item.completed_at or enrolled_at
            if n % 50 == 0:
                db.session.commit()
    finally:
        if bar:
            bar.__exit__(None, None, None)
    from learning.assessment.demo import seed_knowledge_tests

    made["knowledge_tests_taken"] = seed_knowledge_tests(admin.id, courses, seed)
    from learning.evaluations.demo import seed_demo_evaluations

    made["evaluations"] = seed_demo_evaluations(seed)
    db.session.commit()
    return {
        "courses": len(courses),
        "users": learners + 3,
        "countries": len(COUNTRIES),
        "cohorts": len(cohorts),
        **made,
    }


def issue_demo_certificates(progress: bool = False) -> int:
    """Handle the demo's pending completion events here, in batches, as a worker's
    ``outbox.process_batch`` would (certificates, PDFs, done-marks, one transaction a batch); how many
    certificates were issued. Their ``certificate.issued`` events are published as usual."""
    from learning.certificates.models import Certificate
    from learning.outbox.models import OutboxEvent
    from learning.outbox.services import process_batch

    ids = list(db.session.scalars(select(OutboxEvent.id).where(
        OutboxEvent.event_type == "enrolment.completed", OutboxEvent.status == "pending").order_by(OutboxEvent.id)))
    db.session.rollback()
    size = max(1, int(current_app.config.get("OUTBOX_BATCH_SIZE") or 50))
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    bar = click.progressbar(chunks, label="Issuing the demo's certificates") if progress else None
    iterator = bar.__enter__() if bar else chunks
    try:
        for chunk in iterator:
            process_batch(chunk)
    finally:
        if bar:
            bar.__exit__(None, None, None)
    return db.session.scalar(select(func.count()).select_from(Certificate))
