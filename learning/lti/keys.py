"""The tool's own RSA signing keys (RS256, as the LTI 1.3 security framework requires): one active key,
retired ones still published at ``/lti/jwks`` so that what they signed verifies. Kept in the database like
the certificates' issuer keys (``learning.certificates.keys``), but separate: another algorithm, another
``kid``, another JWKS, and rotating one never touches the other.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from sqlalchemy import select

from learning.extensions import db
from learning.lti.models import LtiKey
from learning.models_base import utcnow

ALGORITHM = "RS256"


def _public_jwk(key: RSAKey) -> dict:
    public = key.as_dict(private=False)
    return {"kty": "RSA", "n": public["n"], "e": public["e"], "kid": key.thumbprint(), "alg": ALGORITHM,
            "use": "sig"}


def create_key() -> LtiKey:
    """Generate a new 2048-bit RSA key and add it to the session (the caller's unit of work commits)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = _public_jwk(RSAKey.import_key(private_key))
    row = LtiKey(kid=jwk["kid"], public_jwk=json.dumps(jwk), created_at=utcnow(), private_pem=private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    db.session.add(row)
    db.session.flush()
    return row


@lru_cache(maxsize=16)
def _load(kid: str, private_pem: str) -> RSAKey:
    return RSAKey.import_key(private_pem, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})


def active_key() -> RSAKey:
    """The newest key not retired (created on first use), as joserfc signs with it; ``kid`` set."""
    row = db.session.scalar(select(LtiKey).where(LtiKey.retired_at.is_(None)).order_by(LtiKey.id.desc()).limit(1))
    if row is None:
        row = create_key()
    return _load(row.kid, row.private_pem)


def rotate_key() -> str:
    """Retire every active key and sign with a new one from now on; the old ones stay published. Its kid."""
    now = utcnow()
    for row in db.session.scalars(select(LtiKey).where(LtiKey.retired_at.is_(None))):
        row.retired_at = now
    return create_key().kid


def jwks() -> dict:
    """Every key the tool has signed with, the active one first, as a JWK Set (public parts only).

    An empty set is never published: the first call makes the key, so a platform that fetches the
    keyset when it is registered finds the key the tool will sign with."""
    active_key()
    rows = db.session.scalars(select(LtiKey).order_by(LtiKey.retired_at.is_not(None), LtiKey.id.desc()))
    return {"keys": [json.loads(row.public_jwk) for row in rows]}
