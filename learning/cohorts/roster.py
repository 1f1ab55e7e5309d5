"""Roster files as partner agencies send them: decoded, parsed and validated row by row.

Nothing here touches the database. ``parse_roster`` accepts UTF-8 with or
without a byte-order mark, commas, semicolons or tabs, header names in any
order and case (and a few common spellings), countries as codes or names in
English, Spanish, French or Portuguese, sectors as codes or labels; it reports
every bad row with the field and the reason, including e-mail addresses that
appear twice. Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from learning.errors import DomainError
from learning.i18n import SECTORS, UI_LANGUAGES, normalise_language, parse_country
from learning.text import single_line

REQUIRED_COLUMNS = ("email", "full_name", "country", "sector")
OPTIONAL_COLUMNS = ("organisation", "language")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_ROWS = 50_000
PROGRESS_EVERY = 1000

# Spellings seen in partners' files, after folding (lower case, no accents, "_" for spaces).
HEADER_ALIASES = {
    "e_mail": "email", "email_address": "email", "e_mail_address": "email", "mail": "email",
    "correo": "email", "correo_electronico": "email", "courriel": "email", "adresse_e_mail": "email",
    "name": "full_name", "fullname": "full_name", "nombre": "full_name", "nombre_completo": "full_name",
    "nom": "full_name", "nom_complet": "full_name",
    "organization": "organisation", "org": "organisation", "organizacion": "organisation",
    "institution": "organisation", "institucion": "organisation", "employer": "organisation",
    "pais": "country", "pays": "country", "country_code": "country",
    "sector_code": "sector", "secteur": "sector",
    "lang": "language", "idioma": "language", "langue": "language", "locale": "language",
}

# Sector labels in Spanish and French as partners write them, in case the UI
# translations are not installed; the translated UI labels are added at run time.
SECTOR_ALIASES = {
    "police": "law_enforcement", "policia": "law_enforcement", "fuerzas del orden": "law_enforcement",
    "forces de l'ordre": "law_enforcement", "aplicacion de la ley": "law_enforcement",
    "justicia": "justice", "judiciary": "justice", "judicial": "justice",
    "educacion": "education", "ensenanza": "education", "enseignement": "education",
    "salud": "health", "sante": "health", "healthcare": "health",
    "servicios sociales": "social_services", "services sociaux": "social_services", "social work": "social_services",
    "servicios financieros": "financial", "services financiers": "financial", "finance": "financial",
    "banking": "financial", "banca": "financial", "banque": "financial",
    "tecnologia": "technology", "technologie": "technology", "tech": "technology",
    "gobierno": "government", "gouvernement": "government", "public administration": "government",
    "sociedad civil": "civil_society", "societe civile": "civil_society", "ngo": "civil_society",
    "ong": "civil_society", "universidad": "academia", "academie": "academia", "universite": "academia",
    "milieu universitaire": "academia", "otro": "other", "otros": "other", "autre": "other",
}


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (1 is the header, 0 the file itself), the field and why."""

    row: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class RosterRow:
    """A valid row, with every value in its canonical form."""

    row: int
    email: str
    full_name: str
    country: str
    sector: str
    organisation: str | None
    language: str


@dataclass
class ParsedRoster:
    """What a file holds: its valid rows, the problems, and columns that were not used."""

    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    total_rows: int = 0


class RosterTooLarge(DomainError):
    status = 413
    code = "too_large"


def fold(text: str) -> str:
    """Lower case without accents or surrounding space, for matching what people type."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def header_key(name: str) -> str:
    """The column a header cell names: ``"E-mail Address"`` → ``"email"``."""
    key = re.sub(r"[\s\-./]+", "_", fold(name)).strip("_")
    return HEADER_ALIASES.get(key, key)


def sector_index() -> dict[str, str]:
    """Sector codes and labels (English and every installed translation), folded, to codes."""
    index = dict(SECTOR_ALIASES)
    for code, label in SECTORS.items():
        index[fold(code)] = code
        index[fold(code.replace("_", " "))] = code
        for language in UI_LANGUAGES:
            with force_locale(language):
                index.setdefault(fold(str(label)), code)
    return index


def check_size(data: bytes) -> None:
    """Refuse a file above the configured size before reading it."""
    limit = current_app.config.get("ROSTER_MAX_BYTES", DEFAULT_MAX_BYTES)
    if len(data) > limit:
        raise RosterTooLarge(
            _("The file is too large: the limit is %(limit)d MB.", limit=max(1, limit // (1024 * 1024)))
        )


def decode(data: bytes) -> str:
    """UTF-8 text with or without a byte-order mark; anything else is a clear error."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _file_error(_("This is a spreadsheet workbook, not a CSV file. Save it as \"CSV UTF-8\" and upload that."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _file_error(
            _("The file is not UTF-8 text: line %(line)d has bytes that are not UTF-8. "
              "Save it as \"CSV UTF-8\" and upload it again.", line=line)
        ) from exc
    if "\x00" in text:
        raise _file_error(_("The file contains binary data; upload a CSV text file."))
    return text


def _file_error(message: str) -> RosterFileInvalid:
    return RosterFileInvalid(message, [RowError(0, "file", message)])


class RosterFileInvalid(DomainError):
    """The file as a whole cannot be read (encoding, header, emptiness)."""

    status = 422
    code = "roster_invalid"

    def __init__(self, message: str, errors: list[RowError]):
        super().__init__(message)
        self.errors = errors


def _delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_roster(data: bytes, default_language: str = "en", progress=None) -> ParsedRoster:
    """Read and validate every row of a roster file; raise only if the file as a whole is unreadable."""
    check_size(data)
    text = decode(data)
    if not text.strip():
        raise _file_error(_("The file is empty."))
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text.lstrip("\r\n"), newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader)
        columns = _read_header(header)
        parsed = ParsedRoster(ignored_columns=[h.strip() for h, key in zip(header, columns, strict=True)
                                               if key not in COLUMNS and h.strip()])
        _read_rows(reader, columns, parsed, default_language, progress)
    except csv.Error as exc:
        raise _file_error(_("The file is not valid CSV near line %(line)d: %(reason)s",
                            line=reader.line_num, reason=str(exc))) from exc
    if parsed.total_rows == 0:
        raise _file_error(_("The file has a header but no rows of people."))
    return parsed


def _read_header(header: list[str]) -> list[str]:
    columns = [header_key(cell) for cell in header]
    errors = [RowError(1, column, _("The column %(column)s is missing.", column=column))
              for column in REQUIRED_COLUMNS if column not in columns]
    errors += [RowError(1, column, _("The column %(column)s appears more than once.", column=column))
               for column in COLUMNS if columns.count(column) > 1]
    if errors:
        raise RosterFileInvalid(_("The header row is not usable: %(problems)s",
                                  problems="; ".join(e.message for e in errors)), errors)
    return columns


def _read_rows(reader, columns: list[str], parsed: ParsedRoster, default_language: str, progress=None) -> None:
    max_rows = current_app.config.get("ROSTER_MAX_ROWS", DEFAULT_MAX_ROWS)
    positions = {name: columns.index(name) for name in COLUMNS if name in columns}
    sectors = sector_index()
    first_row_of: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and ";;;;" rows that spreadsheets leave at the end
        parsed.total_rows += 1
        if progress is not None and parsed.total_rows % PROGRESS_EVERY == 0:
            progress(parsed.total_rows)
        if parsed.total_rows > max_rows:
            raise RosterTooLarge(_("The file has more than %(limit)d rows; split it into smaller files.",
                                   limit=max_rows))
        values = {name: (cells[index].strip() if index < len(cells) else "") for name, index in positions.items()}
        row, errors = validate_row(number, values, sectors, default_language)
        if row is not None:
            earlier = first_row_of.get(row.email)
            if earlier is not None:
                errors.append(RowError(number, "email", _("%(email)s is also on row %(row)d; each person may appear "
                                                          "only once.", email=row.email, row=earlier)))
                row = None
            else:
                first_row_of[row.email] = number
        parsed.errors.extend(errors)
        if row is not None and not errors:
            parsed.rows.append(row)


def validate_row(number: int, values: dict[str, str], sectors: dict[str, str],
                 default_language: str) -> tuple[RosterRow | None, list[RowError]]:
    """One row's canonical values, or the problems of each field."""
    errors: list[RowError] = []
    email = _email(values.get("email", ""), number, errors)
    full_name = single_line(values.get("full_name", ""))
    if not full_name:
        errors.append(RowError(number, "full_name", _("A full name is required.")))
    elif len(full_name) > 200:
        errors.append(RowError(number, "full_name", _("The name is longer than 200 characters.")))
    raw_country = values.get("country", "")
    country = _country(raw_country)
    if country is None:
        errors.append(RowError(number, "country", _("Unknown country %(value)s: use a code such as CO or a name in "
                                                    "English, Spanish or French.", value=_quoted(raw_country))))
    raw_sector = values.get("sector", "")
    sector = sectors.get(_folded(raw_sector)) if raw_sector else None
    if sector is None:
        errors.append(RowError(number, "sector", _("Unknown sector %(value)s: use one of %(codes)s.",
                                                   value=_quoted(raw_sector), codes=", ".join(SECTORS))))
    organisation = single_line(values.get("organisation", "")) or None
    if organisation and len(organisation) > 200:
        errors.append(RowError(number, "organisation", _("The organisation is longer than 200 characters.")))
    raw_language = values.get("language", "")
    language = _language(raw_language) if raw_language else default_language
    if language is None:
        errors.append(RowError(number, "language", _("Unknown language %(value)s: use a tag such as es or pt-BR.",
                                                     value=_quoted(raw_language))))
    if errors:
        return None, errors
    return RosterRow(number, email, full_name, country, sector, organisation, language), errors


def _quoted(value: str) -> str:
    return f"“{value}”" if value else _("(empty)")


@lru_cache(maxsize=1024)
def _folded(value: str) -> str:
    return fold(value)


@lru_cache(maxsize=4096)
def _country(value: str) -> str | None:
    return parse_country(value)


@lru_cache(maxsize=1024)
def _language(value: str) -> str | None:
    return normalise_language(value)


# Plain ASCII addresses (nearly every row) are checked by this pattern, a strict subset of what
# email_validator accepts; anything else (Unicode, quoted parts, odd domains) goes through it.
PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})"
)


def _email(raw: str, number: int, errors: list[RowError]) -> str:
    if not raw:
        errors.append(RowError(number, "email", _("An e-mail address is required.")))
        return ""
    plain = PLAIN_EMAIL.fullmatch(raw)
    if plain and len(raw) <= 254 and raw.index("@") <= 64 and plain.group(1).lower() not in SPECIAL_USE_DOMAIN_NAMES:
        return raw.lower()
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        errors.append(RowError(number, "email", _("%(value)s is not a valid e-mail address.", value=_quoted(raw))))
        return ""
    return result.normalized.lower()


EXPORT_COLUMNS = COLUMNS + ("status", "enrolled_at", "completed_at", "lessons_completed", "lessons_total",
                            "quiz_passed", "sessions_attended", "sessions_total")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_rows(members) -> str:
    """The roster as CSV (UTF-8, comma): the import's columns first, so it can be edited and imported again."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for m in members:
        writer.writerow([_cell(v) for v in (
            m.email, m.full_name, m.country, m.sector, m.organisation, m.language, m.status,
            m.enrolled_at.isoformat(timespec="seconds"),
            m.completed_at.isoformat(timespec="seconds") if m.completed_at else "",
            m.lessons_done, m.lessons_total, "yes" if m.quiz_passed else "no", m.sessions_attended, m.sessions_total,
        )])
    return out.getvalue()
