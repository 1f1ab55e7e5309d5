"""Issuing, finding, verifying and revoking certificates.

A certificate is issued at most once per completed enrolment: the unique
constraint on ``enrolment_id`` decides, so a duplicated, retried or
interrupted task ends with exactly one. It keeps a snapshot of what it
certifies (holder, course title and language, dates) and is never deleted:
a revoked certificate verifies as revoked, and after a holder's erasure it
verifies with the name withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dateutil.relativedelta import relativedelta
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from learning.accounts.models import User
from learning.audit.services import record
from learning.catalogue.models import Course, CourseTranslation
from learning.catalogue.texts import pick_language
from learning.certificates import status_list
from learning.certificates.codes import InvalidCode, new_code, normalise_code
from learning.certificates.credentials import issuer_name
from learning.certificates.models import Certificate
from learning.certificates.pdf import CertificateFace, render_pdf
from learning.certificates.storage import StoredFileMissing, get_storage
from learning.enrolment.models import Enrolment
from learning.errors import Conflict, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.services import emit
from learning.signals import LearningEvent, learning_event

MAX_ATTEMPTS = 8
REASON_MAX = 2000
NOTE_MAX = 4000  # the internal note of a revocation, for admins only


class NotCompleted(Conflict):
    code = "enrolment_not_completed"


class AlreadyRevoked(Conflict):
    code = "already_revoked"


class UnknownCertificate(NotFound):
    code = "not_found"


def verify_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/{code}"


def pdf_key(code: str) -> str:
    return f"certificates/{code}.pdf"


def expiry_of(issued_at: datetime, validity_months: int | None) -> datetime | None:
    """The expiry date of a certificate issued at ``issued_at`` (None: never expires)."""
    if validity_months is None:
        return None
    # The same day of the month, or the month's last day (31 January + 1 month = 28/29 February).
    return issued_at + relativedelta(months=validity_months)


def _title_among(translations: list[tuple[str, str]], course, language: str | None) -> tuple[str, str]:
    """The course title in ``language`` when translated, else in the course's own language, else
    in its first translation; ``translations`` are (language, title) pairs in creation order and
    ``course`` has the course's ``slug`` and ``course_language``."""
    titles = dict(translations)
    chosen = pick_language(list(titles), language, course.course_language)
    if chosen in titles:
        return titles[chosen], chosen
    if translations:
        language, title = translations[0]
        return title, language
    return course.slug, course.course_language


def holder_name_of(certificate: Certificate, user: User | None = None) -> str | None:
    """The name to show: None once the holder's personal data was erased."""
    if certificate.holder_name is None:
        return None
    user = user or db.session.get(User, certificate.user_id)
    if user is not None and user.erased_at is not None:
        return None
    return certificate.holder_name


def face_of(certificate: Certificate, holder_name: str | None = None) -> CertificateFace:
    """What the PDF prints; ``holder_name`` when the caller knows it already (saves reading the holder)."""
    return CertificateFace(
        holder_name=(holder_name if holder_name is not None else holder_name_of(certificate)) or "",
        course_title=certificate.course_title,
        language=certificate.course_language,
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
        code=certificate.code,
        verify_url=verify_url(certificate.code),
        issuer_name=issuer_name(),
    )


def store_pdf(certificate: Certificate, holder_name: str | None = None, pdf: bytes | None = None) -> None:
    """Render the certificate's PDF (unless the caller rendered it already) and store it under its key,
    replacing what was there."""
    key = pdf_key(certificate.code)
    get_storage().put(key, pdf if pdf is not None else render_pdf(face_of(certificate, holder_name)),
                      "application/pdf")
    if certificate.pdf_path != key:
        certificate.pdf_path = key


def _issuing_facts(enrolment_id: int) -> tuple | None:
    """What a certificate snapshots, in one round trip: the enrolment, its holder, its course and
    the course's translations (one row each), and the id of a certificate already issued for it.
    Returns the first row and the (language, title) pairs, or None for an unknown enrolment."""
    return _issuing_facts_of([enrolment_id]).get(enrolment_id)


def _issuing_facts_of(enrolment_ids: list[int]) -> dict[int, tuple]:
    """``_issuing_facts`` of many enrolments in one round trip, by enrolment id (unknown ones absent)."""
    rows = db.session.execute(
        select(Enrolment.id, Enrolment.status, Enrolment.completed_at, Enrolment.language,
               Enrolment.user_id, Enrolment.course_id, User.full_name, User.erased_at, Course.slug,
               Course.language.label("course_language"), Course.certificate_validity_months,
               Certificate.id.label("certificate_id"),
               CourseTranslation.language.label("translation_language"),
               CourseTranslation.title.label("translation_title"))
        .join(User, User.id == Enrolment.user_id)
        .join(Course, Course.id == Enrolment.course_id)
        .outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id)
        .outerjoin(CourseTranslation, CourseTranslation.course_id == Enrolment.course_id)
        .where(Enrolment.id.in_(enrolment_ids))
        .order_by(Enrolment.id, CourseTranslation.id)
    ).all()
    found: dict[int, tuple] = {}
    for row in rows:
        _first, translations = found.setdefault(row.id, (row, []))
        if row.translation_language is not None:
            translations.append((row.translation_language, row.translation_title))
    return found


def _new_certificate(facts, translations: list[tuple[str, str]], index: int) -> tuple[Certificate, str]:
    """A certificate of a completed enrolment (not added to the session) and its holder's name."""
    title, language = _title_among(translations, facts, facts.language)
    holder_name = None if facts.erased_at is not None else facts.full_name
    issued_at = facts.completed_at
    code = new_code()
    certificate = Certificate(
        code=code,
        enrolment_id=facts.id,
        user_id=facts.user_id,
        course_id=facts.course_id,
        holder_name=holder_name,
        course_title=title,
        course_language=language,
        issued_at=issued_at,
        expires_at=expiry_of(issued_at, facts.certificate_validity_months),
        status_list_index=index,
        # Where the PDF will be: it is stored before the commit, or the row is not committed.
        pdf_path=pdf_key(code),
    )
    return certificate, holder_name or ""


def _completed(facts) -> bool:
    return facts.status == "completed" and facts.completed_at is not None


def announce(certificate_ids: list[int]) -> None:
    """In the issuing transaction, the event that tells the holders their certificates are ready
    (``certificate.issued``, handled by the reminders feature's notifications); none if nothing is new."""
    if certificate_ids:
        emit("certificate.issued", {"certificate_ids": sorted(certificate_ids)})


def issue_certificate(enrolment_id: int) -> Certificate:
    """The certificate of a completed enrolment, issued and committed exactly once however often asked."""
    for _attempt in range(MAX_ATTEMPTS):
        found = _issuing_facts(enrolment_id)
        if found is None:
            raise NotFound(_("No such enrolment."))
        facts, translations = found
        if facts.certificate_id is not None:
            existing = db.session.get(Certificate, facts.certificate_id)
            if existing.pdf_path is None:  # issued before its PDF could be stored: finish the job
                store_pdf(existing)
                db.session.commit()
            return existing
        if not _completed(facts):
            raise NotCompleted(_("Only a completed enrolment earns a certificate."))
        certificate, holder_name = _new_certificate(facts, translations, status_list.random_index())
        # Rendered before the first write, so that no lock is held meanwhile (on SQLite, the
        # database's only write lock: a learner's own certificate would wait for a batch's PDFs).
        pdf = render_pdf(face_of(certificate, holder_name))
        db.session.add(certificate)
        try:
            # The unique constraints decide here: another worker may have issued this
            # enrolment's certificate, or drawn the same code or status position.
            db.session.flush()
            store_pdf(certificate, holder_name, pdf)
            announce([certificate.id])
            _tell_learning_records(certificate)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return certificate
    raise RuntimeError(f"could not issue a certificate for enrolment {enrolment_id}")


def issue_certificates(enrolment_ids: list[int]) -> list[Certificate]:
    """The certificates of many completed enrolments, issued in the current transaction, not committed.

    The batch form of ``issue_certificate`` for the outbox's batch handler, which commits (or rolls
    back) the certificates with the events' done-marks. An enrolment named twice gets one
    certificate; one already issued is left as it is (its PDF stored if it was missing). If any
    enrolment is unknown or not completed, or a unique constraint refuses a row (another worker
    issued the same enrolment, or a drawn code or status position is taken), this raises and the
    caller rolls back: the outbox then issues each on its own, which retries or records the failure.
    """
    ids = sorted(set(enrolment_ids))
    found = _issuing_facts_of(ids)
    missing = [enrolment_id for enrolment_id in ids if enrolment_id not in found]
    if missing:
        raise NotFound(f"No such enrolment: {missing}.")
    issued = [facts.certificate_id for facts, _translations in found.values() if facts.certificate_id is not None]
    existing = list(db.session.scalars(select(Certificate).where(Certificate.id.in_(issued)))) if issued else []
    to_issue = [found[enrolment_id] for enrolment_id in ids if found[enrolment_id][0].certificate_id is None]
    not_completed = [facts.id for facts, _translations in to_issue if not _completed(facts)]
    if not_completed:
        raise NotCompleted(f"Only a completed enrolment earns a certificate (not {not_completed}).")
    indices = status_list.random_indices(len(to_issue))
    new = [_new_certificate(facts, translations, index)
           for (facts, translations), index in zip(to_issue, indices, strict=True)]
    # The PDFs are rendered before the first write, so that the batch holds its locks (on SQLite, the
    # database's only write lock) for milliseconds, not for the rendering of fifty documents.
    pdfs = [render_pdf(face_of(certificate, holder_name)) for certificate, holder_name in new]
    db.session.add_all(certificate for certificate, _holder_name in new)
    # The unique constraints decide here (rows inserted in enrolment order, so that two workers
    # meeting on the same enrolments wait for each other rather than deadlock).
    db.session.flush()
    for certificate in existing:
        if certificate.pdf_path is None:  # issued before its PDF could be stored: finish the job
            store_pdf(certificate)
    for (certificate, holder_name), pdf in zip(new, pdfs, strict=True):
        store_pdf(certificate, holder_name, pdf)
        _tell_learning_records(certificate)
    announce([certificate.id for certificate, _holder_name in new])
    return [certificate for certificate, _holder_name in new] + existing


def _tell_learning_records(certificate: Certificate) -> None:
    """State the new certificate to whoever listens (``learning.xapi``), in the issuing transaction."""
    learning_event.send(LearningEvent(
        kind="certificate_earned", user_id=certificate.user_id, course_id=certificate.course_id,
        enrolment_id=certificate.enrolment_id, ref=str(certificate.enrolment_id), occurred_at=certificate.issued_at,
        details={"certificate_url": verify_url(certificate.code)}))


def find_by_code(text: str) -> Certificate:
    """The certificate a typed code names; a typo or an unknown code is ``UnknownCertificate``."""
    try:
        code = normalise_code(text)
    except InvalidCode as exc:
        raise UnknownCertificate(str(exc)) from exc
    certificate = db.session.scalar(select(Certificate).where(Certificate.code == code))
    if certificate is None:
        raise UnknownCertificate(_("No certificate has this code."))
    return certificate


@dataclass(frozen=True)
class Verification:
    """What anyone with the code may learn about a certificate."""

    code: str
    status: str
    holder_name: str | None
    course_title: str
    course_language: str
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None


def verify(text: str, at: datetime | None = None) -> Verification:
    """The public verification of a code: status valid, expired or revoked, and the snapshot."""
    certificate = find_by_code(text)
    return Verification(
        code=certificate.code,
        status=certificate.status_at(at or utcnow()),
        holder_name=holder_name_of(certificate),
        course_title=certificate.course_title,
        course_language=certificate.course_language,
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
        revoked_at=certificate.revoked_at,
        revocation_reason=certificate.revocation_reason,
    )


def certificates_of(user: User, page: int = 1, per_page: int = 50) -> tuple[list[Certificate], int]:
    """One page of a learner's certificates, newest first, and how many there are."""
    condition = Certificate.user_id == user.id
    total = db.session.scalar(select(func.count(Certificate.id)).where(condition)) or 0
    items = db.session.scalars(
        select(Certificate).where(condition).order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(items), total


def search(text: str | None, status: str | None = None, page: int = 1,
           per_page: int = 50) -> tuple[list[Certificate], int]:
    """Certificates whose code, holder or course title contains ``text`` (admin search)."""
    conditions = []
    if text and text.strip():
        needle = f"%{text.strip().lower()}%"
        conditions.append(or_(
            func.lower(Certificate.code).like(needle),
            func.lower(Certificate.holder_name).like(needle),
            func.lower(Certificate.course_title).like(needle),
        ))
    now = utcnow()
    if status == "revoked":
        conditions.append(Certificate.revoked_at.is_not(None))
    elif status == "expired":
        conditions += [Certificate.revoked_at.is_(None), Certificate.expires_at <= now]
    elif status == "valid":
        conditions += [Certificate.revoked_at.is_(None),
                       or_(Certificate.expires_at.is_(None), Certificate.expires_at > now)]
    total = db.session.scalar(select(func.count(Certificate.id)).where(*conditions)) or 0
    items = db.session.scalars(
        select(Certificate).where(*conditions).order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(items), total


def revoke(actor: User, text: str, reason: str | None, note: str | None = None) -> Certificate:
    """Revoke a certificate, recording who, when and why (and in the audit log); it is never deleted.

    ``reason`` is public: the verify page and API show it to anyone holding the code. ``note`` is internal
    (what the admins need to know, e.g. the case behind it): kept for admins and the audit log only.
    """
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed(_("The internal note is too long."),
                               {"note": [_("At most %(count)d characters.", count=NOTE_MAX)]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the certificate is revoked."), {"reason": [_("A reason is required.")]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_("The reason is too long."),
                               {"reason": [_("At most %(count)d characters.", count=REASON_MAX)]})
    certificate = find_by_code(text)
    now = utcnow()
    # A conditional update, so that two admins revoking at once record one revocation.
    changed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=actor.id, revocation_reason=reason, revocation_note=note)
    ).rowcount
    if not changed:
        raise AlreadyRevoked(_("This certificate is already revoked."))
    db.session.refresh(certificate)
    record(actor.id, "certificate.revoked", "certificate", certificate.code, reason=reason,
           **({"note": note} if note else {}))
    return certificate


def rerender(actor: User, text: str) -> Certificate:
    """Render and store a certificate's PDF again (after a design change or a lost file)."""
    certificate = find_by_code(text)
    store_pdf(certificate)
    record(actor.id, "certificate.rerendered", "certificate", certificate.code)
    return certificate


def pdf_of(text: str) -> tuple[Certificate, bytes]:
    """The stored PDF of a certificate, rendered and stored first if it is missing."""
    certificate = find_by_code(text)
    storage = get_storage()
    if certificate.pdf_path:
        try:
            return certificate, storage.get(certificate.pdf_path)
        except StoredFileMissing:
            pass
    store_pdf(certificate)
    return certificate, storage.get(certificate.pdf_path)


def withhold_holder_name(user_id: int) -> int:
    """Blank the holder's name on their certificates (erasure); they still verify. Returns how many."""
    return db.session.execute(
        update(Certificate).where(Certificate.user_id == user_id).values(holder_name=None)
    ).rowcount


def being_prepared(user: User) -> list[Enrolment]:
    """The person's completed enrolments whose certificate the worker has not issued yet, newest first."""
    return list(db.session.scalars(
        select(Enrolment).outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id)
        .where(Enrolment.user_id == user.id, Enrolment.status == "completed", Certificate.id.is_(None))
        .order_by(Enrolment.completed_at.desc(), Enrolment.id.desc())
    ))


def certificate_of_enrolment(user: User, enrolment_id: int) -> tuple[str, Certificate | None]:
    """Where an enrolment's certificate stands for its learner: ``ready`` (with it), ``preparing``
    (completed, not issued yet) or ``not_completed``; someone else's enrolment is ``NotFound``."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.user_id != user.id:
        raise NotFound(_("No such enrolment."))
    certificate = db.session.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment_id))
    if certificate is not None:
        return "ready", certificate
    return ("preparing" if enrolment.status == "completed" else "not_completed"), None
