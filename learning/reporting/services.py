"""Training statistics as the business states them: reached, trained, countries, certificates.

``reached`` counts distinct people who enrolled in the period (by
``enrolled_at``), ``trained`` distinct people who completed in it (by
``completed_at``); both attribute by the country, sector and organisation the
enrolment recorded (DESIGN.md rules 3 and 4). Dates are UTC calendar days.
Published figures (exports, the impact page) suppress small cells.
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from learning.accounts.models import Organisation
from learning.catalogue.models import Course, CourseTranslation
from learning.catalogue.texts import pick_language
from learning.cohorts.models import Cohort
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.i18n import country_name, is_country_code, is_sector, sector_label
from learning.parsing import InvalidInput, is_id, parse_date, parse_id
from learning.reporting import disclosure
from learning.reporting.queries import CountRow, ReportFilter, counts

# The report filters, each named once: as a query string (or an export request's body) gives them,
# with what they mean. ``parse_filters`` checks them; the API documents them from this table.
FILTERS: dict[str, dict] = {
    "from": {"format": "date", "example": "2025-01-01", "description": "First UTC day, inclusive"},
    "to": {"format": "date", "example": "2025-12-31", "description": "Last UTC day, inclusive"},
    "country": {"example": "CO", "description": "ISO 3166-1 alpha-2 code"},
    "sector": {"example": "law_enforcement", "description": "A sector code"},
    "course": {"description": "A course slug"},
    "cohort": {"description": "A cohort id"},
    "organisation": {"description": "An organisation id, or its name (ignoring case)"},
}


def parse_filters(args, *, blank_is_unset: bool = True) -> ReportFilter:
    """Validate report filters from a query string; every bad field is named in one 422.

    The dashboard's form sends every field, a blank one meaning "any"; the API documents ``from``
    and ``to`` as dates, so it passes ``blank_is_unset=False`` and a blank date is refused."""
    errors: dict[str, list[str]] = {}
    values: dict = {}

    def text(name: str) -> str | None:
        value = args.get(name)
        value = value.strip() if isinstance(value, str) else value
        return value or None

    for name, attr in (("from", "date_from"), ("to", "date_to")):
        raw = text(name)
        if raw is None and not blank_is_unset and args.get(name) is not None:
            errors[name] = [_("Not a date: use YYYY-MM-DD.")]
        if raw is not None:
            try:
                values[attr] = parse_date(raw)
            except InvalidInput:
                errors[name] = [_("Not a date: use YYYY-MM-DD.")]
    if values.get("date_from") and values.get("date_to") and values["date_from"] > values["date_to"]:
        errors["to"] = [_("The end of the period is before its start.")]
    country = text("country")
    if country is not None:
        if is_country_code(country):
            values["country"] = country.upper()
        else:
            errors["country"] = [_("Unknown country code '%(code)s'.", code=country)]
    sector = text("sector")
    if sector is not None:
        if is_sector(sector):
            values["sector"] = sector
        else:
            errors["sector"] = [_("Unknown sector '%(code)s'.", code=sector)]
    labels: dict[str, str] = {}
    course = text("course")
    if course is not None:
        found = db.session.execute(select(Course.id, Course.slug).where(Course.slug == course)).first()
        if found is None:
            errors["course"] = [_("No course with the slug '%(slug)s'.", slug=course)]
        else:
            values["course"], labels["course"] = found.id, found.slug
    cohort = text("cohort")
    if cohort is not None:
        found = db.session.get(Cohort, parse_id(cohort)) if is_id(cohort) else None
        if found is None:
            errors["cohort"] = [_("No cohort with the id '%(id)s'.", id=cohort)]
        else:
            values["cohort"], labels["cohort"] = found.id, found.name
    organisation = text("organisation")
    if organisation is not None:
        found = find_organisation(organisation)
        if found is None:
            errors["organisation"] = [_("No organisation '%(name)s'.", name=organisation)]
        else:
            values["organisation"], labels["organisation"] = found.id, found.name
    if errors:
        raise ValidationFailed(_("Some filters are invalid."), errors)
    return ReportFilter(**values, labels=labels)


def filters_or_errors(args) -> tuple[ReportFilter, dict[str, list[str]]]:
    """A report page's filters (a blank field: any); when one is bad, no filter at all and the
    errors to show beside the fields, so that the page still answers."""
    try:
        return parse_filters(args), {}
    except ValidationFailed as error:
        return ReportFilter(), error.fields or {}


def find_organisation(value: str) -> Organisation | None:
    """An organisation by id (digits) or else by its name, ignoring case."""
    if is_id(value):
        return db.session.get(Organisation, parse_id(value))
    return db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == value.lower()))


def summary(report: ReportFilter) -> dict:
    """The API's summary: headline figures and the breakdowns by country, sector, course and year."""
    total = next(iter(counts(report)), CountRow(()))
    by_country = _by_dimension(report, total, "country")
    by_sector = _by_dimension(report, total, "sector")
    by_course = _by_dimension(report, total, "course")
    by_year = _by_year(report, total)
    slugs = course_slugs([row.key[0] for row in by_course])
    return {
        "professionals_reached": total.reached,
        "professionals_trained": total.trained,
        "countries_reached": sum(1 for row in by_country if row.key[0] and row.reached),
        "countries_trained": sum(1 for row in by_country if row.key[0] and row.trained),
        "certificates_issued": total.certified,
        "by_country": [_figures("country", row.key[0] or None, row) for row in by_country],
        "by_sector": [_figures("sector", row.key[0] or None, row) for row in by_sector],
        "by_course": [_figures("course", slugs.get(row.key[0]), row) for row in by_course],
        "by_year": [_figures("year", row.key[0], row) for row in by_year],
    }


def _only_row(key, total: CountRow) -> list[CountRow]:
    """A breakdown with a single possible key: the total's figures under it (no row when all are zero,
    as a count finds no fact)."""
    if not (total.reached or total.trained or total.certified):
        return []
    return [CountRow((key,), total.reached, total.trained, total.certified)]


def _by_dimension(report: ReportFilter, total: CountRow, name: str) -> list[CountRow]:
    """The summary's breakdown by one dimension; when the filters fix that dimension, its one row is
    the total (every fact counted has that value): no second count."""
    value = getattr(report, name)
    if value is not None:
        return _only_row(value, total)
    return list(counts(report, (name,)))


def _by_year(report: ReportFilter, total: CountRow) -> list[CountRow]:
    """The summary's figures by year. A period within one calendar year has one year, whose figures are
    the period's own (the same people, the same certificates): no second count, which for a period
    that is not a whole year would be another pass over its facts (the cells keep no month by year)."""
    start, end = report.date_from, report.date_to
    if start is None or end is None or start.year != end.year:
        return list(counts(report, ("year",)))
    return _only_row(start.year, total)


def _figures(name: str, value, row: CountRow) -> dict:
    return {name: value, "reached": row.reached, "trained": row.trained, "certificates": row.certified}


def course_slugs(course_ids) -> dict[int, str]:
    ids = list(set(course_ids))
    if not ids:
        return {}
    return dict(db.session.execute(select(Course.id, Course.slug).where(Course.id.in_(ids))).all())


def course_titles(course_ids, language: str) -> dict[int, tuple[str, str]]:
    """(slug, title) by id: the title in ``language`` as a learner reading it would see it
    (``learning.catalogue.texts.pick_language``: its own or a regional form, else the course's own
    language, else the first translation)."""
    ids = list(set(course_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Course.id, Course.slug, Course.language, CourseTranslation.language, CourseTranslation.title)
        .join(CourseTranslation, CourseTranslation.course_id == Course.id)
        .where(Course.id.in_(ids))
        .order_by(Course.id, CourseTranslation.id)
    )
    texts: dict[int, dict[str, str]] = {}
    own_language: dict[int, tuple[str, str]] = {}
    for course_id, slug, own, lang, title in rows:
        texts.setdefault(course_id, {})[lang] = title
        own_language[course_id] = (slug, own)
    result = {}
    for course_id, by_language in texts.items():
        slug, own = own_language[course_id]
        chosen = pick_language(list(by_language), language, own)
        title = by_language.get(chosen) or next(iter(by_language.values()))
        result[course_id] = (slug, title)
    return result


def cohort_names(cohort_ids) -> dict[int, str]:
    ids = [i for i in set(cohort_ids) if i]
    if not ids:
        return {}
    return dict(db.session.execute(select(Cohort.id, Cohort.name).where(Cohort.id.in_(ids))).all())


def organisation_names(organisation_ids) -> dict[int, str]:
    ids = [i for i in set(organisation_ids) if i]
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def behind(report: ReportFilter, language: str) -> dict:
    """The courses and cohorts behind a set of figures (the dashboard's drill-down)."""
    by_course = list(counts(report, ("course",)))
    by_cohort = list(counts(report, ("cohort",)))
    titles = course_titles([row.key[0] for row in by_course], language)
    names = cohort_names([row.key[0] for row in by_cohort])
    return {
        "courses": [{"id": row.key[0], "slug": titles.get(row.key[0], ("", ""))[0],
                     "title": titles.get(row.key[0], ("", ""))[1], "row": row} for row in by_course],
        "cohorts": [{"id": row.key[0] or None, "name": names.get(row.key[0]) if row.key[0] else None,
                     "row": row} for row in by_cohort],
    }


def over_time(report: ReportFilter) -> tuple[str, list[CountRow]]:
    """Figures by month when they span at most three years, else by year."""
    by_year = list(counts(report, ("year",)))
    if len(by_year) > 3:
        return "year", _without_gaps(by_year, lambda year: year + 1)
    return "month", _without_gaps(list(counts(report, ("month",))), _next_month)


def _next_month(month: int) -> int:
    return month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1


def _without_gaps(rows: list[CountRow], following) -> list[CountRow]:
    """The series from its first to its last period, with zeros where nothing happened."""
    if not rows:
        return rows
    known = {row.key[0]: row for row in rows}
    series, period = [], rows[0].key[0]
    while period <= rows[-1].key[0]:
        series.append(known.get(period) or CountRow((period,)))
        period = following(period)
    return series


# --- publishing ----------------------------------------------------------------------------

def small_cell_threshold() -> int:
    return int(current_app.config.get("SMALL_CELL_THRESHOLD", 5))


def suppress(value: int, threshold: int | None = None) -> int | str:
    """A published count: exact from the threshold up, ``"<5"`` below it (zero stays zero)."""
    threshold = small_cell_threshold() if threshold is None else threshold
    if 0 < value < threshold:
        return f"<{threshold}"
    return value


def impact(year: int) -> dict:
    """The figures of one calendar year as published: small cells suppressed, and complementary
    cells withheld so that none can be worked out from the exact totals (``disclosure``)."""
    report = ReportFilter(date_from=date(year, 1, 1), date_to=date(year, 12, 31))
    threshold = small_cell_threshold()
    total = next(iter(counts(report)), CountRow(()))
    withheld: dict[str, set[str]] = {}

    def published(name: str) -> list[dict]:
        # Rows without a country (or sector) are not shown: the table protected is the one readers see,
        # whose cells add up to the total when each person is in one of them.
        visible = [row for row in counts(report, (name,)) if row.key[0]]
        rows, figures, withheld[name] = disclosure.publish_rows(report, (name,), visible, threshold)
        shown = [{name: row.key[0], "reached": cells["reached"], "trained": cells["trained"]}
                 for row, cells in zip(rows, figures, strict=True)]
        # Ordered by what is published only: ordering by the exact figures would place a withheld cell
        # between two published ones and so bound it.
        return sorted(shown, key=lambda r: (*_rank(r["trained"]), *_rank(r["reached"]), str(r[name])))

    by_country, by_sector = published("country"), published("sector")

    def count_of(name: str, figure: str, rows: list[dict]) -> int | str:
        # How many countries had a figure says how many of its cells are not zero: not published when
        # the column is withheld whole.
        if figure in withheld[name]:
            return disclosure.WITHHELD
        return sum(1 for row in rows if row[figure] != 0)

    return {
        "year": year,
        "professionals_reached": suppress(total.reached, threshold),
        "professionals_trained": suppress(total.trained, threshold),
        "countries_reached": count_of("country", "reached", by_country),
        "countries_trained": count_of("country", "trained", by_country),
        "sectors_trained": count_of("sector", "trained", by_sector),
        "certificates_issued": suppress(total.certified, threshold),
        "small_cell_threshold": threshold,
        "by_country": by_country,
        "by_sector": by_sector,
    }


def _rank(value: int | str) -> tuple[int, int]:
    """Published numbers first, largest first; then "<5"; then withheld cells."""
    if isinstance(value, int):
        return 0, -value
    return (1, 0) if value.startswith("<") else (2, 0)


def label_country(code: str | None, language: str | None = None) -> str:
    return country_name(code, language) if code else _("Not recorded")


def label_sector(code: str | None) -> str:
    return sector_label(code) if code else _("Not recorded")


def reached_label() -> str:
    return _("Professionals reached")


def trained_label() -> str:
    return _("Professionals trained")
