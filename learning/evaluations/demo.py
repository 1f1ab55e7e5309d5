"""The demo's evaluations: most people who completed a course evaluated it, in their own language.

Sent through the service (so every rule holds), then dated within a fortnight of the completion,
never in the future. A generator of its own (from the demo's seed) leaves the rest of the demo as
it was.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from learning.enrolment.models import Enrolment
from learning.evaluations import services
from learning.evaluations.questions import SCALE
from learning.extensions import db
from learning.i18n import primary_language
from learning.models_base import utcnow

SHARE = 0.6  # of completed enrolments evaluated
WEIGHTS = (1, 2, 6, 16, 14)  # ratings 1 to 5: mostly good, some critical
COMMENTS = {
    "en": ["Ask open questions before assuming anything.", "Share the referral pathway with my team.",
           "Document disclosures word for word.", "More case studies from our region, please."],
    "es": ["Escuchar primero y no juzgar.", "Compartiré la ruta de derivación con mi equipo.",
           "Más casos prácticos de nuestra región.", "Registrar las revelaciones palabra por palabra."],
    "fr": ["Écouter d'abord, sans juger.", "Partager le circuit de signalement avec mon équipe.",
           "Plus d'études de cas de notre région, s'il vous plaît."],
    "pt": ["Ouvir primeiro, sem julgar.", "Partilhar o circuito de encaminhamento com a equipa.",
           "Mais estudos de caso da nossa região."],
    "ar": ["الاستماع أولاً دون إصدار أحكام.", "مشاركة مسار الإحالة مع فريقي.", "المزيد من دراسات الحالة من منطقتنا."],
}


def seed_demo_evaluations(seed: int) -> int:
    """Evaluate about ``SHARE`` of the completed enrolments; how many evaluations were made."""
    rng = random.Random(seed * 31 + 18)
    made = 0
    completed = db.session.scalars(select(Enrolment).where(Enrolment.status == "completed").order_by(Enrolment.id))
    for enrolment in completed:
        if rng.random() > SHARE:
            continue
        language = primary_language(enrolment.language) or "en"
        answers: dict = {}
        for question in services.questions_for(enrolment):
            if question.kind == SCALE:
                if rng.random() < 0.95:
                    answers[question.key] = rng.choices(range(1, 6), WEIGHTS)[0]
            elif question.kind == "choice":
                answers[question.key] = rng.choices(["yes", "no", "not_sure"], (8, 1, 2))[0]
            elif question.key == "change" and rng.random() < 0.4:
                answers[question.key] = rng.choice(COMMENTS.get(language, COMMENTS["en"]))
        evaluation = services.submit_evaluation(enrolment, answers, language)
        sent = enrolment.completed_at + timedelta(days=rng.randint(0, 14), minutes=rng.randint(5, 600))
        evaluation.submitted_at = min(sent, utcnow())
        made += 1
    return made
