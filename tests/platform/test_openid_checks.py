"""The OpenID Connect checks single sign-on and the LTI launch share (``learning.openid``)."""

from __future__ import annotations

import time

import pytest

from learning.openid import check_id_token_claims, new_login_secrets, same_secret


class Refused(Exception):
    pass


class FromNow(int):
    """A time given as seconds from when the claims are made (not from when the tests were collected,
    which may be half an hour earlier in a long run)."""


def _claims(**changes) -> dict:
    now = int(time.time())
    changes = {key: now + value if isinstance(value, FromNow) else value for key, value in changes.items()}
    return {"iss": "https://idp.example", "aud": "tool", "exp": now + 300, "iat": now, "nonce": "n-1", **changes}


def _reason(claims: dict, strict: bool = False) -> str | None:
    try:
        check_id_token_claims(claims, issuer="https://idp.example", client_id="tool", nonce="n-1",
                              refuse=Refused, strict=strict)
    except Refused as refused:
        return refused.args[0]
    return None


def test_each_login_gets_its_own_unguessable_state_and_nonce():
    first, second = new_login_secrets(), new_login_secrets()
    assert len({first.state, first.nonce, second.state, second.nonce}) == 4
    assert min(len(first.state), len(first.nonce)) >= 43


def test_a_secret_sent_back_must_be_the_one_kept_and_odd_values_are_refused_not_crashed():
    assert same_secret("abc", "abc")
    assert not same_secret("abd", "abc")
    assert not same_secret("", "")
    assert not same_secret(None, "abc") and not same_secret(["abc"], "abc")
    assert not same_secret("ñandú", "abc")  # non-ASCII: a refusal, not a TypeError


@pytest.mark.parametrize(("changes", "reason"), [
    ({}, None),
    ({"iss": "https://other.example"}, "wrong_issuer"),
    ({"aud": "another-tool"}, "wrong_audience"),
    ({"aud": ["tool", "another-tool"]}, "wrong_audience"),  # several audiences need our azp
    ({"aud": ["tool", "another-tool"], "azp": "tool"}, None),
    ({"exp": FromNow(-120)}, "expired"),
    ({"exp": "soon"}, "expired"),
    ({"iat": FromNow(600)}, "issued_in_future"),
    ({"nonce": "n-2"}, "bad_nonce"),
    ({"nonce": None}, "bad_nonce"),
])
def test_an_id_tokens_claims_are_checked_alike_for_both_sign_ins(changes, reason):
    assert _reason(_claims(**changes)) == reason
    assert _reason(_claims(**changes), strict=True) == reason


def test_the_launchs_strict_reading_also_wants_iat_and_our_azp_beside_a_single_audience():
    without_iat = {k: v for k, v in _claims().items() if k != "iat"}
    assert _reason(without_iat) is None
    assert _reason(without_iat, strict=True) == "issued_in_future"
    assert _reason(_claims(azp="another-tool")) is None
    assert _reason(_claims(azp="another-tool"), strict=True) == "wrong_audience"
