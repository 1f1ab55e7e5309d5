"""A revocation has a public reason and, apart from it, an internal note that only admins see.

The reason is shown to anyone who verifies the certificate; the note (the case
behind the revocation, which may name people or an investigation) stays in the
admin's page and the audit log, and appears in no public view: the verify
page and API, the signed credential in both forms, the PDF, the status list,
nor the holder's own list and data export.
"""

from __future__ import annotations

from sqlalchemy import select

from learning.audit.models import AuditEntry
from learning.certificates.models import Certificate
from learning.extensions import db
from tests import factories_certificates as certs
from tests.factories_certificates import sign_in

REASON = "Issued in error: the course was not finished."
NOTE = "Case 2026-118: complaint from the police academy, see the file of inspector Ruiz."


def public_views(client, api, code: str, holder) -> dict[str, str]:
    """Everything a person without admin rights can read about the certificate."""
    views = {
        "verify page": client.get(f"/verify/{code}").get_data(as_text=True),
        "verify API": api.get(f"certificates/{code}").get_data(as_text=True),
        "credential": api.get(f"certificates/{code}/credential").get_data(as_text=True),
        "credential JWT": api.get(f"certificates/{code}/credential?format=jwt").get_data(as_text=True),
        "holder's list": api.as_user(holder).get("me/certificates").get_data(as_text=True),
        "holder's export": api.as_user(holder).get("me/export").get_data(as_text=True),
    }
    pdf = client.get(f"/certificates/{code}.pdf")
    views["pdf"] = pdf.get_data().decode("latin-1")
    return views


def test_the_internal_note_never_appears_in_public_views(make, api, client):
    admin, holder = make.admin(), make.user()
    certificate = certs.certificate(holder)
    response = api.as_user(admin).post(f"certificates/{certificate.code}/revoke",
                                       json={"reason": REASON, "note": NOTE})
    assert response.status_code == 200 and NOTE not in response.get_data(as_text=True)

    views = public_views(client, api, certificate.code, holder)
    assert REASON in views["verify page"] and api.get(f"certificates/{certificate.code}").json[
        "revocation_reason"] == REASON
    for name, body in views.items():
        assert NOTE not in body and "Ruiz" not in body, f"the internal note shows in the {name}"

    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).revocation_note == NOTE
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificate.revoked"))
    assert entry.details["note"] == NOTE and entry.details["reason"] == REASON


def test_admins_read_the_note_on_the_certificate_page_and_write_it_with_the_form(make, client, api):
    admin = make.admin()
    certificate = certs.certificate()
    sign_in(client, admin)
    page = client.get(f"/certificates/admin/{certificate.code}").get_data(as_text=True)
    assert 'name="note"' in page and "never shown publicly" in page
    response = client.post(f"/certificates/admin/{certificate.code}/revoke", data={"reason": REASON, "note": NOTE})
    assert response.status_code == 302
    detail = client.get(f"/certificates/admin/{certificate.code}").get_data(as_text=True)
    assert NOTE.replace("'", "&#39;") in detail and 'id="revocation-note"' in detail
    anonymous = api.app.test_client().get(f"/verify/{certificate.code}").get_data(as_text=True)
    assert NOTE not in anonymous and REASON in anonymous


def test_a_note_is_optional_and_too_long_a_note_changes_nothing(make, api):
    admin_api = api.as_user(make.admin())
    first, second = certs.certificate(), certs.certificate()
    too_long = admin_api.post(f"certificates/{first.code}/revoke", json={"reason": REASON, "note": "x" * 4001})
    assert too_long.status_code == 422 and "note" in too_long.json["error"]["fields"]
    assert api.get(f"certificates/{first.code}").json["status"] == "valid"
    assert admin_api.post(f"certificates/{second.code}/revoke", json={"reason": REASON}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Certificate, second.id).revocation_note is None


def test_the_openapi_document_describes_the_note(api):
    spec = api.get("openapi.json").get_json()
    body = spec["paths"]["/api/v1/certificates/{code}/revoke"]["post"]["requestBody"]["content"]["application/json"]
    schema = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == {"reason", "note"} and schema["required"] == ["reason"]
    assert "never shown" in schema["properties"]["note"]["description"]
