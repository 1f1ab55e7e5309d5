"""The issuer's Ed25519 signing keys: one active key, older ones kept so that what they signed verifies.

Each key is published twice: as a JWK (with ``kid``, the RFC 7638 thumbprint)
at ``/.well-known/jwks.json`` for the JWT form, and as a ``did:key`` for the
Data Integrity form, whose verification method any verifier can resolve
without the network.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc.jwk import OKPKey
from sqlalchemy import select

from learning.certificates.models import SigningKey
from learning.extensions import db
from learning.models_base import utcnow

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PUB_MULTICODEC = b"\xed\x01"


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


@dataclass(frozen=True)
class IssuerKey:
    """A signing key ready to use: the private key and the names it is published under."""

    kid: str
    private_key: Ed25519PrivateKey
    public_jwk: dict

    @property
    def public_raw(self) -> bytes:
        return base64.urlsafe_b64decode(self.public_jwk["x"] + "==")

    @property
    def multibase(self) -> str:
        """The public key as a Multikey ``publicKeyMultibase`` (``z6Mk...``)."""
        return "z" + base58btc(_ED25519_PUB_MULTICODEC + self.public_raw)

    @property
    def did(self) -> str:
        return f"did:key:{self.multibase}"

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.multibase}"

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    @cached_property
    def jwk(self) -> OKPKey:
        """The private key as joserfc signs with it."""
        return OKPKey.import_key(self.private_key)


def jwk_of(public_key: Ed25519PublicKey) -> dict:
    """The public JWK with its RFC 7638 thumbprint as ``kid`` (both by joserfc)."""
    key = OKPKey.import_key(public_key)
    public = key.as_dict(private=False)
    return {"crv": public["crv"], "kty": public["kty"], "x": public["x"], "kid": key.thumbprint(),
            "alg": "EdDSA", "use": "sig"}


def create_key() -> SigningKey:
    """Generate a new Ed25519 key and add it to the session (the caller commits)."""
    private_key = Ed25519PrivateKey.generate()
    jwk = jwk_of(private_key.public_key())
    row = SigningKey(
        kid=jwk["kid"],
        private_pem=private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        public_jwk=json.dumps(jwk),
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


@lru_cache(maxsize=64)
def _load(kid: str, private_pem: str, public_jwk: str) -> IssuerKey:
    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return IssuerKey(kid=kid, private_key=private_key, public_jwk=json.loads(public_jwk))


def as_issuer_key(row: SigningKey) -> IssuerKey:
    return _load(row.kid, row.private_pem, row.public_jwk)


def active_key() -> IssuerKey:
    """The newest key not retired, created on first use (committed with the caller's unit of work)."""
    row = db.session.scalar(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id.desc()).limit(1)
    )
    if row is None:
        row = create_key()
    return as_issuer_key(row)


def rotate_key() -> IssuerKey:
    """Retire every active key and start signing with a new one; old keys stay published."""
    now = utcnow()
    for row in db.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
    row = create_key()
    return as_issuer_key(row)


def jwks() -> dict:
    """Every key ever used, active first, as a JWK Set."""
    rows = db.session.scalars(
        select(SigningKey).order_by(SigningKey.retired_at.is_not(None), SigningKey.id.desc())
    )
    return {"keys": [json.loads(row.public_jwk) for row in rows]}
