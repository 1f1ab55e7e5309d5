"""Issuing, verifying, revoking and reading certificates: services, API and pages."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from learning.audit.models import AuditEntry
from learning.certificates import services
from learning.certificates.models import Certificate
from learning.extensions import db
from learning.models_base import utcnow
from tests import factories_certificates as certs
from tests.factories_certificates import sign_in


def certificates_count() -> int:
    return db.session.query(Certificate).count()


# --- issuing -----------------------------------------------------------------------

def test_a_completion_earns_one_certificate_with_a_snapshot_of_what_it_certifies(make):
    learner = make.user(full_name="Zoë Ñúñez-Kovalenko")
    course = make.course(title="Recognising grooming online", certificate_validity_months=24)
    completed = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)
    enrolment = certs.completion(learner, course, completed_at=completed)

    certificate = services.issue_certificate(enrolment.id)

    assert certificate.holder_name == "Zoë Ñúñez-Kovalenko"
    assert certificate.course_title == "Recognising grooming online"
    assert certificate.course_language == "en"
    assert certificate.issued_at == completed
    assert certificate.expires_at == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    # A later change of name or title does not rewrite the certificate.
    learner.full_name = "Someone Else"
    db.session.commit()
    assert services.verify(certificate.code).holder_name == "Zoë Ñúñez-Kovalenko"


def test_issuing_again_returns_the_same_certificate(make):
    enrolment = certs.completion()
    first = services.issue_certificate(enrolment.id)
    second = services.issue_certificate(enrolment.id)
    assert second.id == first.id and second.code == first.code
    assert certificates_count() == 1


def test_the_database_refuses_a_second_certificate_for_one_enrolment(make):
    first = certs.certificate()
    duplicate = Certificate(code="0000-0000-0000-0", enrolment_id=first.enrolment_id, user_id=first.user_id,
                            course_id=first.course_id, holder_name="x", course_title="x", course_language="en")
    db.session.add(duplicate)
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert certificates_count() == 1


def test_the_course_title_is_printed_in_the_learners_language_when_translated(make):
    learner = make.user(language="es")
    course = make.course(title="Child safeguarding", translations={"es": {"title": "Protección infantil",
                                                                          "summary": "Resumen"}})
    certificate = certs.certificate(learner, course)
    assert (certificate.course_title, certificate.course_language) == ("Protección infantil", "es")


def test_a_course_without_validity_gives_a_certificate_that_never_expires(make):
    certificate = certs.certificate(certificate_validity_months=None)
    assert certificate.expires_at is None
    assert services.verify(certificate.code).status == "valid"


def test_expiry_keeps_the_day_or_takes_the_last_day_of_a_shorter_month():
    issued = datetime(2024, 8, 31, tzinfo=UTC)
    assert services.expiry_of(issued, 6) == datetime(2025, 2, 28, tzinfo=UTC)
    assert services.expiry_of(issued, 12) == datetime(2025, 8, 31, tzinfo=UTC)
    assert services.expiry_of(issued, None) is None


def test_an_enrolment_not_completed_earns_nothing(make):
    enrolment = make.enrolment(make.user())
    with pytest.raises(services.NotCompleted):
        services.issue_certificate(enrolment.id)
    assert certificates_count() == 0


def test_many_completions_get_distinct_codes_and_status_positions(make):
    course = make.course()
    issued = [certs.certificate(of_course=course) for _ in range(12)]
    assert len({c.code for c in issued}) == 12
    assert len({c.status_list_index for c in issued}) == 12


# --- verification -------------------------------------------------------------------

def test_anyone_can_verify_a_code_as_typed_by_a_person(make, api):
    certificate = certs.certificate(make.user(full_name="Amina Diallo"), title="Interviewing children")
    typed = certificate.code.replace("-", " ").lower().replace("0", "o")
    response = api.get(f"certificates/{typed}")
    assert response.status_code == 200
    body = response.json
    assert body["code"] == certificate.code
    assert body["status"] == "valid"
    assert body["holder_name"] == "Amina Diallo"
    assert body["course_title"] == "Interviewing children"
    assert body["issued_at"].startswith(certificate.issued_at.strftime("%Y-%m-%dT"))
    assert body["expires_at"] is not None


def test_an_unknown_code_answers_404_and_a_typo_says_so(make, api):
    certificate = certs.certificate()
    unknown = api.get("certificates/0000-0000-0000-0")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"
    body = certificate.code.replace("-", "")
    typo = body[:3] + ("1" if body[3] != "1" else "2") + body[4:]
    response = api.get(f"certificates/{typo}")
    assert response.status_code == 404
    assert "typo" in response.json["error"]["message"]


def test_an_expired_certificate_verifies_as_expired(make, api):
    long_ago = utcnow() - timedelta(days=800)
    certificate = certs.certificate(completed_at=long_ago, certificate_validity_months=12)
    assert api.get(f"certificates/{certificate.code}").json["status"] == "expired"


def test_after_erasure_the_certificate_still_verifies_without_the_name(make, api, client):
    learner = make.user(full_name="Olena Kovalenko")
    certificate = certs.certificate(learner)
    learner.erased_at = utcnow()
    learner.full_name = ""
    services.withhold_holder_name(learner.id)
    db.session.commit()

    body = api.get(f"certificates/{certificate.code}").json
    assert body["status"] == "valid" and body["holder_name"] is None
    page = client.get(f"/verify/{certificate.code}").get_data(as_text=True)
    assert "Olena" not in page and "Name withheld" in page


def test_the_public_verification_page_shows_the_verdict(make, client):
    certificate = certs.certificate(make.user(full_name="فاطمة الزهراء"))
    page = client.get(f"/verify/{certificate.code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "This certificate is genuine and valid." in text and "فاطمة الزهراء" in text
    missing = client.get("/verify/0000-0000-0000-0")
    assert missing.status_code == 404 and "Certificate not found" in missing.get_data(as_text=True)
    assert client.get(f"/verify?code={certificate.code.lower()}").status_code == 302


# --- revocation -----------------------------------------------------------------------

def test_an_admin_revokes_with_a_reason_and_it_still_verifies_as_revoked(make, api):
    admin = make.admin()
    certificate = certs.certificate()
    response = api.as_user(admin).post(f"certificates/{certificate.code}/revoke",
                                       json={"reason": "Issued in error: the learner was not assessed."})
    assert response.status_code == 200 and response.json["status"] == "revoked"

    public = api.get(f"certificates/{certificate.code}").json
    assert public["status"] == "revoked"
    db.session.expire_all()
    stored = db.session.get(Certificate, certificate.id)
    assert stored.revoked_by_id == admin.id and stored.revoked_at is not None
    assert stored.revocation_reason == "Issued in error: the learner was not assessed."
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificate.revoked"))
    assert entry.actor_id == admin.id and entry.target_id == certificate.code


def test_revoking_needs_a_reason_and_changes_nothing_without_one(make, api):
    admin_api = api.as_user(make.admin())
    certificate = certs.certificate()
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = admin_api.post(f"certificates/{certificate.code}/revoke", json=body)
        assert response.status_code == 422
        assert "reason" in response.json["error"]["fields"]
    assert api.get(f"certificates/{certificate.code}").json["status"] == "valid"


def test_revoking_twice_is_a_conflict_that_keeps_the_first_record(make, api):
    admin_api = api.as_user(make.admin())
    certificate = certs.certificate()
    assert admin_api.post(f"certificates/{certificate.code}/revoke", json={"reason": "First"}).status_code == 200
    again = admin_api.post(f"certificates/{certificate.code}/revoke", json={"reason": "Second"})
    assert again.status_code == 409
    assert api.get(f"certificates/{certificate.code}").json["revocation_reason"] == "First"


def test_only_admins_may_revoke(make, api):
    certificate = certs.certificate()
    assert api.post(f"certificates/{certificate.code}/revoke", json={"reason": "x"}).status_code == 401
    for who in (make.user(), make.trainer(), db.session.get(type(make.user()), certificate.user_id)):
        response = api.as_user(who).post(f"certificates/{certificate.code}/revoke", json={"reason": "x"})
        assert response.status_code == 403
    assert api.get(f"certificates/{certificate.code}").json["status"] == "valid"


# --- the learner's certificates -------------------------------------------------------------

def test_a_learner_lists_only_their_own_certificates_with_links(make, api):
    learner = make.user()
    mine = certs.certificate(learner, title="Course A")
    certs.certificate()  # someone else's
    response = api.as_user(learner).get("me/certificates")
    assert response.status_code == 200
    body = response.json
    assert body["total"] == 1 and body["page"] == 1
    item = body["items"][0]
    assert item["code"] == mine.code and item["status"] == "valid"
    assert item["course_title"] == "Course A" and item["course"].startswith("course-")
    assert item["pdf_url"] == f"http://127.0.0.1:5000/certificates/{mine.code}.pdf"
    assert item["verify_url"] == f"http://127.0.0.1:5000/verify/{mine.code}"
    assert item["credential_url"] == f"http://127.0.0.1:5000/api/v1/certificates/{mine.code}/credential"
    assert api.get("me/certificates").status_code == 401


def test_the_certificates_page_offers_download_and_share_links(make, client):
    learner = make.user()
    certificate = certs.certificate(learner, title="Safe interviewing")
    assert client.get("/certificates").status_code == 302  # sign in first
    sign_in(client, learner)
    page = client.get("/certificates").get_data(as_text=True)
    assert "Safe interviewing" in page and certificate.code in page
    assert f"/certificates/{certificate.code}.pdf" in page
    assert f"http://127.0.0.1:5000/verify/{certificate.code}" in page
    assert "Copy link" in page


# --- the PDF ------------------------------------------------------------------------------------

def _decode_qr(pdf_bytes: bytes, tmp_path) -> str:
    if not shutil.which("pdftoppm") or not shutil.which("zbarimg"):
        pytest.fail("Reading the QR code needs pdftoppm (poppler-utils) and zbarimg (zbar-tools).")
    (tmp_path / "c.pdf").write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / "c.pdf"), str(tmp_path / "page")],
                   check=True)
    result = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "page.png")],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_pdf_reads_back_with_the_name_code_and_a_qr_code_to_the_verify_page(make, client, tmp_path):
    certificate = certs.certificate(make.user(full_name="Zoë Ñúñez"), title="Безопасность детей в сети")
    response = client.get(f"/certificates/{certificate.code}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Zoë Ñúñez" in text
    assert "Безопасность детей в сети" in text
    assert certificate.code in text
    assert _decode_qr(response.data, tmp_path) == f"http://127.0.0.1:5000/verify/{certificate.code}"


def test_an_arabic_name_and_title_are_shaped_right_to_left(make, client, tmp_path):
    learner = make.user(full_name="فاطمة الزهراء", language="ar")
    course = make.course(title="Child protection", language="en",
                         translations={"ar": {"title": "حماية الطفل", "summary": "ملخص"}})
    certificate = certs.certificate(learner, course)
    assert certificate.course_language == "ar"
    data = client.get(f"/certificates/{certificate.code}.pdf").data
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    # Shaped glyphs map back to the logical words; extraction gives them in reading order.
    for word in ("فاطمة", "الزهراء", "حماية", "الطفل"):
        assert word in text
    assert _decode_qr(data, tmp_path).endswith(certificate.code)


def test_latin_text_after_arabic_text_keeps_its_own_font(make, client):
    learner = make.user(full_name="Zoë Ñúñez", language="ar")
    course = make.course(title="Child protection", translations={"ar": {"title": "حماية الطفل", "summary": "ملخص"}})
    certificate = certs.certificate(learner, course)
    text = PdfReader(io.BytesIO(client.get(f"/certificates/{certificate.code}.pdf").data)).pages[0].extract_text()
    assert "Zoë Ñúñez" in text
    assert f"http://127.0.0.1:5000/verify/{certificate.code}" in text


def test_the_pdf_is_rendered_once_and_served_from_storage(make, client, app):
    certificate = certs.certificate()
    from learning.certificates.storage import get_storage

    stored = get_storage().get(certificate.pdf_path)
    assert client.get(f"/certificates/{certificate.code}.pdf").data == stored


def test_an_unknown_pdf_is_404(client, app_context):
    assert client.get("/certificates/0000-0000-0000-0.pdf").status_code == 404


# --- admin pages ------------------------------------------------------------------------------------

def test_admins_search_revoke_and_rerender_from_the_pages(make, client):
    admin = make.admin()
    target = certs.certificate(make.user(full_name="Kwame Mensah"))
    certs.certificate(make.user(full_name="Ana Pereira"))
    sign_in(client, admin)
    page = client.get("/certificates/admin?q=kwame").get_data(as_text=True)
    assert "Kwame Mensah" in page and "Ana Pereira" not in page

    response = client.post(f"/certificates/admin/{target.code}/revoke", data={"reason": "Fraudulent claim"})
    assert response.status_code == 302
    detail = client.get(f"/certificates/admin/{target.code}").get_data(as_text=True)
    assert "Fraudulent claim" in detail and "Revoked" in detail

    revoked_only = client.get("/certificates/admin?status=revoked").get_data(as_text=True)
    assert "Kwame Mensah" in revoked_only and "Ana Pereira" not in revoked_only

    assert client.post(f"/certificates/admin/{target.code}/render").status_code == 302
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificate.rerendered"))


def test_revoking_from_the_page_without_a_reason_changes_nothing(make, client, api):
    sign_in(client, make.admin())
    certificate = certs.certificate()
    client.post(f"/certificates/admin/{certificate.code}/revoke", data={"reason": ""})
    assert api.get(f"certificates/{certificate.code}").json["status"] == "valid"


def test_learners_and_trainers_cannot_open_the_admin_pages(make, client):
    certificate = certs.certificate()
    for who in (make.user(), make.trainer()):
        sign_in(client, who)
        assert client.get("/certificates/admin").status_code == 403
        assert client.post(f"/certificates/admin/{certificate.code}/revoke",
                           data={"reason": "x"}).status_code == 403
        client.post("/account/logout")
