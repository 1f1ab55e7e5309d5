"""Roster files the way partner agencies send them are read, and every problem is named."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from learning.cohorts.roster import RosterFileInvalid, RosterTooLarge, parse_roster
from tests.factories_cohorts import csv_bytes

HEADER = "email,full_name,country,sector,organisation,language"


@pytest.fixture
def parse(app_context):
    """Parse as a request in English would (messages are translated)."""
    with force_locale("en"):
        yield lambda data, **kw: parse_roster(data, **kw)


def test_a_clean_file_gives_canonical_rows(parse):
    parsed = parse(csv_bytes(HEADER, "Ana.Gomez@Example.org,  Ana   Gómez ,co,law_enforcement,Policía Nacional,es"))
    assert parsed.errors == [] and parsed.total_rows == 1
    row = parsed.rows[0]
    assert (row.row, row.email, row.full_name, row.country, row.sector, row.organisation, row.language) == (
        2, "ana.gomez@example.org", "Ana Gómez", "CO", "law_enforcement", "Policía Nacional", "es")


def test_byte_order_mark_semicolons_and_headers_in_any_order_and_case(parse):
    data = csv_bytes("Sector;E-mail;Country;Full Name;LANGUAGE", "Health;jo@example.org;Kenya;Jo Otieno;sw",
                     bom=True)
    parsed = parse(data)
    assert parsed.errors == []
    assert [(r.email, r.country, r.sector, r.language) for r in parsed.rows] == [
        ("jo@example.org", "KE", "health", "sw")]


def test_countries_by_name_in_english_spanish_and_french(parse):
    parsed = parse(csv_bytes(HEADER, "a@example.org,A,México,education,,", "b@example.org,B,Allemagne,education,,",
                             "c@example.org,C,Côte d’Ivoire,education,,", "d@example.org,D,Perú,education,,",
                             "e@example.org,E,Brazil,education,,", "f@example.org,F,Espagne,education,,"))
    assert parsed.errors == []
    assert [r.country for r in parsed.rows] == ["MX", "DE", "CI", "PE", "BR", "ES"]


def test_sectors_by_code_or_label(parse):
    parsed = parse(csv_bytes(HEADER, "a@example.org,A,CO,Law enforcement,,", "b@example.org,B,CO,social services,,",
                             "c@example.org,C,CO,Servicios financieros,,", "d@example.org,D,CO,Santé,,",
                             "e@example.org,E,CO,CIVIL_SOCIETY,,"))
    assert parsed.errors == []
    assert [r.sector for r in parsed.rows] == ["law_enforcement", "social_services", "financial", "health",
                                               "civil_society"]


def test_every_bad_field_of_every_row_is_named(parse):
    parsed = parse(csv_bytes(HEADER, "not-an-email,,Atlantis,astronaut,,klingon!", "ok@example.org,Ok,CO,health,,"))
    assert [(e.row, e.field) for e in parsed.errors] == [
        (2, "email"), (2, "full_name"), (2, "country"), (2, "sector"), (2, "language")]
    assert parsed.errors[2].message.startswith("Unknown country “Atlantis”")
    assert [r.email for r in parsed.rows] == ["ok@example.org"]


def test_duplicate_emails_within_the_file_are_reported_with_the_first_row(parse):
    parsed = parse(csv_bytes(HEADER, "ana@example.org,Ana,CO,health,,", "ben@example.org,Ben,CO,health,,",
                             "ANA@example.org,Ana again,CO,health,,"))
    assert [(e.row, e.field, e.message) for e in parsed.errors] == [
        (4, "email", "ana@example.org is also on row 2; each person may appear only once.")]
    assert [r.email for r in parsed.rows] == ["ana@example.org", "ben@example.org"]


def test_missing_columns_reject_the_file_naming_each(parse):
    with pytest.raises(RosterFileInvalid) as caught:
        parse(csv_bytes("email,name", "a@example.org,A"))
    assert [(e.row, e.field) for e in caught.value.errors] == [(1, "country"), (1, "sector")]
    assert caught.value.errors[0].message == "The column country is missing."


def test_blank_lines_are_skipped_and_extra_columns_ignored(parse):
    parsed = parse(csv_bytes(HEADER + ",phone", "", "a@example.org,A,CO,health,,,555", ",,,,,,", ""))
    assert parsed.total_rows == 1 and parsed.errors == [] and parsed.ignored_columns == ["phone"]


def test_optional_columns_may_be_absent_and_the_language_defaults(parse):
    parsed = parse(csv_bytes("email,full_name,country,sector", "a@example.org,A,CO,health"), default_language="fr")
    assert parsed.rows[0].language == "fr" and parsed.rows[0].organisation is None


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"\r\n  \r\n", "The file is empty."),
    (csv_bytes(HEADER), "The file has a header but no rows of people."),
    ("email,full_name,country,sector\na@example.org,Zoé,FR,health\n".encode("latin-1"),
     "The file is not UTF-8 text: line 2 has bytes that are not UTF-8. Save it as \"CSV UTF-8\" and upload it again."),
    (b"PK\x03\x04rest-of-a-workbook", "This is a spreadsheet workbook, not a CSV file. Save it as \"CSV UTF-8\" and "
                                      "upload that."),
])
def test_unreadable_files_get_a_clear_error(parse, data, message):
    with pytest.raises(RosterFileInvalid) as caught:
        parse(data)
    assert caught.value.message == message
    assert [(e.row, e.field) for e in caught.value.errors] == [(0, "file")]


def test_a_file_over_the_size_limit_is_refused_before_reading(parse):
    with pytest.raises(RosterTooLarge) as caught:
        parse(csv_bytes(HEADER) + b"x" * (8 * 1024 * 1024))
    assert caught.value.status == 413
