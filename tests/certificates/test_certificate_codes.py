"""Certificate codes: random, readable, forgiving to type, and a typo never names another certificate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learning.certificates.codes import (
    ALPHABET,
    InvalidCode,
    check_symbol,
    new_code,
    normalise_code,
)

bodies = st.text(alphabet=ALPHABET, min_size=12, max_size=12)


def test_a_new_code_is_grouped_for_reading_and_carries_its_check_symbol():
    code = new_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 1]
    assert set(code.replace("-", "")) <= set(ALPHABET)
    assert normalise_code(code) == code


def test_codes_are_not_repeated():
    assert len({new_code() for _ in range(2000)}) == 2000


def test_typing_is_forgiving_about_case_spaces_dashes_and_look_alike_letters():
    body = "7KQ4M2XD9PR0"
    code = normalise_code(body + check_symbol(body))
    assert normalise_code(code.lower()) == code
    assert normalise_code(code.replace("-", " ")) == code
    assert normalise_code(code.replace("0", "o").replace("-", "")) == code


@given(bodies, st.integers(0, 11), st.sampled_from(ALPHABET))
def test_every_single_mistyped_symbol_is_caught(body, position, replacement):
    if body[position] == replacement:
        return
    typo = body[:position] + replacement + body[position + 1:] + check_symbol(body)
    with pytest.raises(InvalidCode, match="typo"):
        normalise_code(typo)


@given(bodies, st.integers(0, 10))
def test_swapping_two_neighbouring_symbols_is_caught(body, position):
    a, b = body[position], body[position + 1]
    # Luhn mod 32 misses only the swap of the two symbols whose doubled values wrap alike.
    if a == b or {a, b} == {ALPHABET[0], ALPHABET[31]}:
        return
    swapped = body[:position] + b + a + body[position + 2:] + check_symbol(body)
    with pytest.raises(InvalidCode):
        normalise_code(swapped)


@pytest.mark.parametrize("text, message", [
    ("", "13 characters"),
    ("7KQ4-M2XD", "13 characters"),
    ("7KQ4-M2XD-9PRT-!", "only digits"),
    ("UUUU-UUUU-UUUU-U", "only digits"),
])
def test_malformed_codes_are_refused_with_a_reason(text, message):
    with pytest.raises(InvalidCode, match=message):
        normalise_code(text)
