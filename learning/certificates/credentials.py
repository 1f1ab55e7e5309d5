"""The certificate as an Open Badges 3.0 ``OpenBadgeCredential`` (W3C Verifiable Credentials 2.0).

Credentials are built from the certificate's snapshot and signed when asked
for, by the issuer's active key: a holder who erased their account gets the
same credential without their name, and a rotated key simply signs the next
request. Each credential points to the Bitstring Status List that says
whether it was revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from learning.certificates import status_list
from learning.certificates.jsonld import OB_V3, VC_V2
from learning.certificates.keys import IssuerKey
from learning.certificates.models import Certificate
from learning.certificates.proofs import _iso, add_data_integrity_proof, sign_jwt
from learning.i18n import interface_language
from learning.models_base import utcnow

OB_SCHEMA_URL = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
DEFAULT_ISSUER_NAME = "Child Protection Learning"


def issuer_name() -> str:
    return current_app.config.get("CERTIFICATE_ISSUER_NAME", DEFAULT_ISSUER_NAME)


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def credential_url(code: str) -> str:
    return f"{base_url()}/api/v1/certificates/{code}/credential"


def status_list_url(list_number: int) -> str:
    return f"{base_url()}/api/v1/status-lists/{list_number}"


def _subject_identifier(certificate: Certificate) -> dict:
    """A salted hash of the holder's account: identifies the subject without personal data."""
    secret = current_app.config["SECRET_KEY"].encode()
    salt = hmac.new(secret, f"salt:{certificate.code}".encode(), hashlib.sha256).hexdigest()[:16]
    digest = hashlib.sha256(f"user:{certificate.user_id}{salt}".encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "systemId",
        "hashed": True,
        "salt": salt,
    }


def _language(certificate: Certificate) -> str:
    return interface_language(certificate.course_language)


def build_credential(certificate: Certificate, holder_name: str | None, issuer: IssuerKey) -> dict:
    """The unsigned OpenBadgeCredential of a certificate (``holder_name`` None once erased)."""
    with force_locale(_language(certificate)):
        description = _("Completion of the course %(title)s.", title=certificate.course_title)
        narrative = _("Complete every lesson of the course and pass its assessment, "
                      "or be signed off by the trainer of the cohort.")
    course_uri = uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url()}/courses/{certificate.course_id}").urn
    subject: dict = {"type": ["AchievementSubject"]}
    if holder_name:
        subject["name"] = holder_name
    subject["identifier"] = [_subject_identifier(certificate)]
    subject["achievement"] = {
        "id": course_uri,
        "type": ["Achievement"],
        "achievementType": "CertificateOfCompletion",
        "name": certificate.course_title,
        "description": description,
        "criteria": {"narrative": narrative},
        "inLanguage": certificate.course_language,
    }
    credential: dict = {
        "@context": [VC_V2, OB_V3],
        "id": credential_url(certificate.code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": certificate.course_title,
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": issuer_name(), "url": base_url()},
        "validFrom": _iso(certificate.issued_at),
    }
    if certificate.expires_at is not None:
        credential["validUntil"] = _iso(certificate.expires_at)
    credential["credentialSubject"] = subject
    if certificate.status_list_index is not None:
        list_number = status_list.list_number_of(certificate.status_list_index)
        position = status_list.position_in_list(certificate.status_list_index)
        credential["credentialStatus"] = {
            "id": f"{status_list_url(list_number)}#{position}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(position),
            "statusListCredential": status_list_url(list_number),
        }
    credential["credentialSchema"] = [{"id": OB_SCHEMA_URL, "type": "JsonSchema"}]
    return credential


def signed_credential(certificate: Certificate, holder_name: str | None, issuer: IssuerKey,
                      now: datetime | None = None) -> dict:
    """The credential with an embedded ``eddsa-rdfc-2022`` proof."""
    return add_data_integrity_proof(build_credential(certificate, holder_name, issuer), issuer, now or utcnow())


def credential_jwt(certificate: Certificate, holder_name: str | None, issuer: IssuerKey,
                   now: datetime | None = None) -> str:
    """The JWT form Open Badges 3.0 describes: the credential in ``vc`` with the registered claims.

    There is no ``sub``: the subject has no ``id``, only a hashed identifier.
    """
    credential = build_credential(certificate, holder_name, issuer)
    claims: dict = {
        "iss": issuer.did,
        "jti": credential["id"],
        "nbf": int(certificate.issued_at.timestamp()),
        "iat": int((now or utcnow()).timestamp()),
    }
    if certificate.expires_at is not None:
        claims["exp"] = int(certificate.expires_at.timestamp())
    claims["vc"] = credential
    return sign_jwt(claims, issuer)


def status_list_credential(list_number: int, revoked_positions: list[int], issuer: IssuerKey,
                           now: datetime | None = None) -> dict:
    """The signed ``BitstringStatusListCredential`` of one list."""
    url = status_list_url(list_number)
    document = {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.did,
        "validFrom": _iso(now or utcnow()),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": status_list.encode_bits(revoked_positions),
        },
    }
    return add_data_integrity_proof(document, issuer, now or utcnow())
