"""A session's printable sign-in sheet: the members in a numbered table with a signature column,
headed by the course, cohort and session, in the cohort's language (its course's language).

For rooms without a connection: the trainer prints it, members sign it, and the trainer enters
the register afterwards on the session's attendance page. Text is shaped by HarfBuzz with the
platform's PDF fonts (``learning.pdf``: Noto Sans, and Noto Sans Arabic where Arabic is written), and right-to-left
languages get the table mirrored (number column on the right).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from flask_babel import force_locale
from flask_babel import gettext as _

from learning.accounts.models import User
from learning.catalogue.services import course_text
from learning.cohorts import services
from learning.cohorts.models import Cohort, TrainingSession
from learning.i18n import is_rtl, primary_language
from learning.pdf import needs_arabic, new_document, set_font, to_bytes

PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 15.0
ROW_H = 11.0
INK, MUTED, RULE = (33, 37, 41), (95, 99, 104), (150, 150, 150)


def _when(session: TrainingSession, language: str, zone: str) -> str:
    try:
        tz = ZoneInfo(zone or "UTC")
    except Exception:  # an unknown zone stored long ago: UTC rather than no sheet
        tz = ZoneInfo("UTC")
    for locale in (language.replace("-", "_"), "en"):
        try:
            # The day in full and the time without seconds ("lunes, 3 de marzo de 2025, 9:00 (hora de
            # Colombia)"): Babel's "full" time would print "9:00:00" and the zone's standard-time name.
            when = Locale.parse(locale).datetime_formats["full"].format(
                format_time(session.starts_at, "short", tzinfo=tz, locale=locale),
                format_date(session.starts_at.astimezone(tz), "full", locale=locale))
            return f"{when} ({get_timezone_name(tz, width='short', locale=locale)})"
        except Exception:  # an unknown locale: English
            continue
    return session.starts_at.isoformat()


def render(cohort: Cohort, session: TrainingSession, viewer: User) -> bytes:
    """The sheet as PDF bytes; times in the viewer's time zone (the trainer prints it where they teach)."""
    language = primary_language(cohort.course.language or "en")
    members, _total = services.members_of(cohort)
    members = [m for m in members if m.status != "withdrawn"]
    trainers = [t.full_name for t in services.trainers_of([cohort.id]).get(cohort.id, [])]
    with force_locale(language):
        labels = {
            "title": _("Sign-in sheet"), "course": _("Course"), "cohort": _("Cohort"), "session": _("Session"),
            "when": _("Date and time"), "place": _("Place"), "trainers": _("Trainers"), "number": _("No."),
            "name": _("Name"), "organisation": _("Organisation"), "signature": _("Signature"),
            "note": _("Sign next to your name. Ask the trainer to add anyone who is missing."),
        }
        details = [
            (labels["course"], course_text(cohort.course, language).title),
            (labels["cohort"], cohort.name),
            (labels["session"], session.title or labels["session"]),
            (labels["when"], _when(session, language, viewer.timezone)),
            (labels["place"], session.place or "—"),
            (labels["trainers"], ", ".join(trainers) or "—"),
        ]
    rtl = is_rtl(language)
    texts = [*labels.values(), *(v for _k, v in details), *(m.full_name for m in members),
             *(m.organisation or "" for m in members)]
    pdf = new_document(language, needs_arabic(texts), margin=MARGIN)
    width = PAGE_W - 2 * MARGIN
    align = "R" if rtl else "L"
    # Columns in reading order: number, name, organisation, signature; mirrored for right to left.
    columns = [("number", 12.0), ("name", 68.0), ("organisation", 45.0), ("signature", width - 125.0)]
    if rtl:
        columns.reverse()

    def header_row(y: float) -> float:
        pdf.set_fill_color(235, 238, 240)
        pdf.set_draw_color(*RULE)
        set_font(pdf, "B", 10)
        x = MARGIN
        for key, w in columns:
            pdf.set_xy(x, y)
            pdf.cell(w, ROW_H - 3, labels[key], border=1, align=align, fill=True)
            x += w
        return y + ROW_H - 3

    def new_page() -> float:
        pdf.add_page()
        pdf.set_text_color(*INK)
        set_font(pdf, "B", 16)
        pdf.set_xy(MARGIN, MARGIN)
        pdf.cell(width, 9, labels["title"], align=align)
        return MARGIN + 11

    y = new_page()
    for label, value in details:
        pdf.set_xy(MARGIN, y)
        set_font(pdf, "", 10)
        pdf.multi_cell(width, 5.5, f"{label}: {value}", align=align, max_line_height=5.5)
        y = pdf.get_y() + 0.5
    pdf.set_text_color(*MUTED)
    set_font(pdf, "", 9)
    pdf.set_xy(MARGIN, y + 1)
    pdf.multi_cell(width, 5, labels["note"], align=align)
    pdf.set_text_color(*INK)
    y = header_row(pdf.get_y() + 2)
    # The members, then a few blank rows for people who turn up without being on the roster.
    rows = [(str(i), m.full_name, m.organisation or "") for i, m in enumerate(members, start=1)]
    rows += [(str(len(rows) + i), "", "") for i in range(1, 6)]
    for number, name, organisation in rows:
        if y + ROW_H > PAGE_H - MARGIN:
            y = header_row(new_page())
        values = {"number": number, "name": name, "organisation": organisation, "signature": ""}
        x = MARGIN
        for key, w in columns:
            set_font(pdf, "", 10 if key != "organisation" else 8)
            pdf.set_xy(x, y)
            text = values[key]
            while text and pdf.get_string_width(text) > w - 2 * pdf.c_margin:
                text = text[:-1]  # a very long name is cut to its column rather than overprinting
            pdf.cell(w, ROW_H, text, border=1, align=align)
            x += w
        y += ROW_H
    return to_bytes(pdf)
