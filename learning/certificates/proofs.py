"""Signing credentials: an embedded ``eddsa-rdfc-2022`` Data Integrity proof, or a compact JWS (JWT).

The Data Integrity proof follows the W3C cryptosuite: the proof options and
the document (without its proof) are each canonicalised with RDFC-1.0 and
hashed with SHA-256; the Ed25519 signature over the two hashes is the
``proofValue``, multibase base58btc encoded.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from joserfc import jwt
from joserfc.jwa import EdDSAAlgorithm, JWSRegistry

from learning.certificates.jsonld import canonize
from learning.certificates.keys import IssuerKey, base58btc


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def add_data_integrity_proof(document: dict, key: IssuerKey, created: datetime) -> dict:
    """A copy of ``document`` with an ``eddsa-rdfc-2022`` proof by ``key`` (assertionMethod)."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": _iso(created),
        "verificationMethod": key.verification_method,
        "proofPurpose": "assertionMethod",
    }
    proof_config = {"@context": unsigned["@context"], **proof}
    hash_data = (
        hashlib.sha256(canonize(proof_config).encode()).digest()
        + hashlib.sha256(canonize(unsigned).encode()).digest()
    )
    proof["proofValue"] = "z" + base58btc(key.sign(hash_data))
    return {**unsigned, "proof": proof}


class _EdDSA(EdDSAAlgorithm):
    """joserfc's EdDSA without its notice that RFC 9864 deprecates the name for "Ed25519" (the same
    Ed25519 signature): the published JWKs and the Open Badges / VC-JOSE verifiers say "EdDSA"."""

    security_warning = None


class _Registry(JWSRegistry):
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _EdDSA()}


_SIGNING = _Registry(algorithms=["EdDSA"])


def sign_jwt(claims: dict, key: IssuerKey, typ: str = "JWT") -> str:
    """A compact JWS over ``claims`` with EdDSA (Ed25519) and the key's ``kid`` in the header (joserfc)."""
    header = {"alg": "EdDSA", "typ": typ, "kid": key.kid}
    return jwt.encode(header, claims, key.jwk, registry=_SIGNING, default_type=None)
