"""Signing credentials: an embedded ``eddsa-rdfc-2022`` Data Integrity proof, or a compact JWS (JWT).

The Data Integrity proof follows the W3C cryptosuite: the proof options and
the document (without its proof) are each canonicalised with RDFC-1.0 and
hashed with SHA-256; the Ed25519 signature over the two hashes is the
``proofValue``, multibase base58btc encoded.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from learning.certificates.jsonld import canonize
from learning.certificates.keys import IssuerKey, b64url, base58btc


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


def sign_jwt(claims: dict, key: IssuerKey, typ: str = "JWT") -> str:
    """A compact JWS over ``claims`` with EdDSA (Ed25519) and the key's ``kid`` in the header."""
    header = {"alg": "EdDSA", "typ": typ, "kid": key.kid}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    )
    return signing_input + "." + b64url(key.sign(signing_input.encode()))
