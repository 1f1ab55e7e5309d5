"""Erasure of a holder (DESIGN.md rule 8): certificates keep verifying, naming no one.

The certificate row stays (it is a fact that counts in past statistics and that
anyone holding the code may check), its ``holder_name`` is blanked, and the
stored PDF is rendered again in place (same key, so the old file is replaced) with "Name withheld at the holder's
request" where the name was, so neither the storage nor
``GET /certificates/<code>.pdf`` prints the name any more. The verification
page, the API and the signed credential read the blanked row, so they withhold
the name too. See docs/SECURITY.md for why the PDF is re-rendered, not deleted.
"""

from __future__ import annotations

from sqlalchemy import select

from learning.certificates.models import Certificate
from learning.certificates.services import store_pdf, withhold_holder_name
from learning.extensions import db
from learning.signals import ErasedPerson, user_erased


def forget_holder(person: ErasedPerson) -> int:
    """Blank the name on the person's certificates (and in a revocation reason or internal note that quotes it) and
    overwrite their PDFs; returns how many."""
    withhold_holder_name(person.user_id)
    certificates = list(db.session.scalars(
        select(Certificate).where(Certificate.user_id == person.user_id).order_by(Certificate.id)
    ))
    for certificate in certificates:
        db.session.refresh(certificate)  # the bulk update above is not in the identity map
        certificate.revocation_reason = person.scrub_text(certificate.revocation_reason)
        certificate.revocation_note = person.scrub_text(certificate.revocation_note)
        store_pdf(certificate)
    return len(certificates)


def _on_user_erased(person: ErasedPerson) -> None:
    forget_holder(person)


def connect_erasure() -> None:
    user_erased.connect(_on_user_erased)
