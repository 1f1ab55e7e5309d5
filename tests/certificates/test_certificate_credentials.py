"""Signed credentials, checked by implementations that are not the platform's own.

The Data Integrity proof is verified by Digital Bazaar's JavaScript libraries
(those the DCC Learner Credential Wallet uses) on Node.js, offline; the JWT by
PyJWT with the published JWKS; the shape by the Open Badges 3.0 JSON Schema.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import jwt
import pytest

from learning.certificates import keys, services
from learning.certificates.jsonld import CONTEXT_DIR, UnknownContext, canonize
from learning.certificates.status_list import decode_bits
from learning.extensions import db
from tests import factories_certificates as certs

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCHEMA = json.loads((CONTEXT_DIR / "ob_v3p0_achievementcredential_schema.json").read_text())


@pytest.fixture(scope="session")
def node_verifier():
    """The command of the independent verifier, installing its locked packages when missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("The credential tests need Node.js (node and npm) for the independent verifier.")
    # Each xdist worker has this fixture: one installs while the others wait on the lock (two ``npm ci`` at
    # once in one folder delete each other's files), then they find the packages there. npm writes
    # node_modules/.package-lock.json last, so a half-done install is done again.
    with (JS_DIR / "package-lock.json").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (JS_DIR / "node_modules" / ".package-lock.json").is_file():
            installed = subprocess.run(["npm", "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
                                       capture_output=True, text=True, timeout=600)
            if installed.returncode:
                pytest.fail(f"npm ci for the independent verifier failed:\n{installed.stderr[-2000:]}")
    return [node, str(JS_DIR / "verify.mjs")]


def independent_verify(command, credential: dict, documents: dict | None = None) -> dict:
    env = {**os.environ, "VERIFIER_EXTRA_DOCUMENTS": json.dumps(documents or {})}
    result = subprocess.run(command, input=json.dumps(credential), capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fetch_credential(api, code: str) -> dict:
    response = api.get(f"certificates/{code}/credential")
    assert response.status_code == 200
    assert response.mimetype == "application/vc+ld+json"
    return json.loads(response.get_data(as_text=True))


def fetch_status_list(api, credential: dict) -> dict:
    url = credential["credentialStatus"]["statusListCredential"]
    response = api.get(url.removeprefix("http://127.0.0.1:5000"))
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))


def test_the_credential_is_an_open_badge_that_validates_against_the_schema(make, api):
    certificate = certs.certificate(make.user(full_name="Amina Diallo"), title="Interviewing children")
    credential = fetch_credential(api, certificate.code)
    jsonschema.Draft201909Validator(SCHEMA).validate(credential)
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"].startswith("did:key:z6Mk")
    assert credential["credentialSubject"]["name"] == "Amina Diallo"
    assert credential["credentialSubject"]["achievement"]["name"] == "Interviewing children"
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert credential["credentialStatus"]["type"] == "BitstringStatusListEntry"


def test_an_independent_verifier_accepts_the_proof_and_refuses_a_forgery(make, api, node_verifier):
    certificate = certs.certificate(make.user(full_name="فاطمة الزهراء"))
    credential = fetch_credential(api, certificate.code)
    status = fetch_status_list(api, credential)
    documents = {status["id"]: status}

    assert independent_verify(node_verifier, credential, documents) == {"verified": True, "errors": []}

    forged = json.loads(json.dumps(credential))
    forged["credentialSubject"]["name"] = "Mallory"
    result = independent_verify(node_verifier, forged, documents)
    assert result["verified"] is False and "Invalid signature." in result["errors"]


def test_a_revoked_certificate_fails_the_independent_status_check(make, api, node_verifier):
    certificate = certs.certificate()
    credential = fetch_credential(api, certificate.code)
    services.revoke(make.admin(), certificate.code, "Issued in error")
    db.session.commit()
    status = fetch_status_list(api, credential)
    position = int(credential["credentialStatus"]["statusListIndex"])
    bits = decode_bits(status["credentialSubject"]["encodedList"])
    assert len(bits) * 8 == 131_072 and bits[position // 8] & (0x80 >> position % 8)

    result = independent_verify(node_verifier, credential, {status["id"]: status})
    assert result["verified"] is False
    assert any("revocation" in error for error in result["errors"])


def test_an_erased_holders_credential_verifies_without_the_name(make, api, node_verifier):
    learner = make.user(full_name="Olena Kovalenko")
    certificate = certs.certificate(learner)
    services.withhold_holder_name(learner.id)
    db.session.commit()
    credential = fetch_credential(api, certificate.code)
    assert "name" not in credential["credentialSubject"]
    assert "Olena" not in json.dumps(credential)
    status = fetch_status_list(api, credential)
    assert independent_verify(node_verifier, credential, {status["id"]: status})["verified"] is True


def test_the_jwt_form_verifies_with_pyjwt_and_the_published_keys(make, api):
    certificate = certs.certificate(make.user(full_name="Kwame Mensah"))
    response = api.get(f"certificates/{certificate.code}/credential?format=jwt")
    assert response.status_code == 200 and response.mimetype == "application/vc+jwt"
    token = response.get_data(as_text=True)

    jwks = api.get("/.well-known/jwks.json").json
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"])
    assert claims["vc"]["credentialSubject"]["name"] == "Kwame Mensah"
    assert claims["jti"] == claims["vc"]["id"]
    assert claims["iss"] == claims["vc"]["issuer"]["id"]
    assert claims["nbf"] == int(certificate.issued_at.timestamp())
    jsonschema.Draft201909Validator(SCHEMA).validate(claims["vc"])

    tampered = token.rsplit(".", 1)[0] + "." + "A" * 86
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, jwt.PyJWK(jwk).key, algorithms=["EdDSA"])


def test_after_key_rotation_old_tokens_still_verify_with_the_jwks(make, api):
    certificate = certs.certificate()
    old_token = api.get(f"certificates/{certificate.code}/credential?format=jwt").get_data(as_text=True)
    keys.rotate_key()
    db.session.commit()
    new_token = api.get(f"certificates/{certificate.code}/credential?format=jwt").get_data(as_text=True)
    jwks = api.get("/.well-known/jwks.json").json
    assert len(jwks["keys"]) == 2
    by_kid = {k["kid"]: k for k in jwks["keys"]}
    old_kid, new_kid = (jwt.get_unverified_header(t)["kid"] for t in (old_token, new_token))
    assert old_kid != new_kid and jwks["keys"][0]["kid"] == new_kid
    for token, kid in ((old_token, old_kid), (new_token, new_kid)):
        jwt.decode(token, jwt.PyJWK(by_kid[kid]).key, algorithms=["EdDSA"])


def test_the_credential_format_must_be_one_the_api_knows(make, api):
    certificate = certs.certificate()
    response = api.get(f"certificates/{certificate.code}/credential?format=pdf")
    assert response.status_code == 422 and "format" in response.json["error"]["fields"]
    assert api.get("certificates/0000-0000-0000-0/credential").status_code == 404


def test_an_unknown_status_list_is_404(api, app_context):
    assert api.get("status-lists/7").status_code == 404


def test_json_ld_processing_never_fetches_a_context(app_context):
    with pytest.raises(Exception) as caught:
        canonize({"@context": "https://example.org/context.json", "name": "x"})
    chain, error = [], caught.value
    while error is not None and len(chain) < 20:
        chain.append(error)
        error = error.__cause__ or getattr(error, "cause", None)
    assert any(isinstance(e, UnknownContext) for e in chain)


def test_admins_rotate_the_key_from_the_command_line(app, app_context):
    first = keys.active_key()
    result = app.test_cli_runner().invoke(args=["certificates", "rotate-key"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    second = keys.active_key()
    assert second.kid != first.kid and second.kid in result.output
    assert {k["kid"] for k in keys.jwks()["keys"]} == {first.kid, second.kid}
