"""The statistics dashboard's learning-gain, evaluations and export sections, walked in Spanish and
Arabic at desktop and phone width.

The groupings are named in the reader's language ("CSV por país y sector", not "country,sector"),
the evaluations chart gives its means in the reader's number format and, in Arabic, has its
question labels on the right where its bars start; an empty learning-gain chart is not drawn (its
table, open, says why); the rating tables keep their words whole on a phone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from learning.extensions import db
from tests import factories_cohorts, factories_evaluations
from tests.factories_certificates import sign_in
from tests.page_walk import Site, browsing_as, visit

YEAR = 2024
DASHBOARD = f"/reports/?from={YEAR}-01-01&to={YEAR}-12-31"


def _evaluated(make):
    """A closed cohort evaluated by six people (above the small-cell threshold)."""
    trainer = make.trainer()
    course = make.course(title="Recognising child sexual exploitation")
    cohort = factories_cohorts.cohort(trainer, course, name="Fiscalía — Lima")
    cohort.status, cohort.closed_at = "closed", datetime(YEAR, 5, 30, tzinfo=UTC)
    for n in range(6):
        factories_evaluations.stored(course.id, {"relevance": 3 + n % 3, "trainer": 5 - n % 2, "recommend": "yes"},
                                     day=date(YEAR, 5, 20 + n), cohort_id=cohort.id)
    db.session.commit()


@pytest.mark.parametrize(("lang", "expected", "raw"), [
    ("es", ["CSV por país", "CSV por país y sector", "CSV del progreso por organización", ">país y sector</option>"],
     ["CSV por country", "por country,sector", "progreso por course", ">country</option>"]),
    ("ar", ["CSV حسب البلد", "CSV حسب البلد والقطاع", ">البلد والقطاع</option>"],
     ["حسب country", "حسب course", ">month</option>"]),
])
def test_the_groupings_of_the_exports_are_named_in_the_readers_language(client, make, lang, expected, raw):
    sign_in(client, make.admin(language=lang))
    html = client.get(f"{DASHBOARD}&lang={lang}").get_data(as_text=True)
    for text in expected:
        assert text in html, text
    for text in raw:
        assert text not in html, text
    assert 'value="country,sector"' in html  # the form still sends the API's code


@pytest.mark.browser
def test_the_evaluations_chart_in_arabic_reads_from_the_right_and_an_empty_gain_chart_is_a_table(
        browser, live_server, make):
    _evaluated(make)
    admin = make.admin()
    with browsing_as(browser, live_server.url, Site(users={"admin": admin}), "admin", "ar") as page:
        visit(page, DASHBOARD, "ar")
        page.wait_for_selector("#chart-evaluations[data-ready=true]")
        axes = page.evaluate("""() => { const c = Chart.getChart(document.getElementById('chart-evaluations'));
            return [c.options.scales.x.reverse, c.options.scales.y.position]; }""")
        assert axes == [True, "right"]  # bars start on the right, beside their questions
        # Nobody took both tests: no empty chart, the table is open and says so.
        assert page.locator("#chart-gain-country").count() == 0
        assert page.locator("#learning-gain details.chart-table").get_attribute("open") is not None
        assert page.locator("#gain-country-table").is_visible()


@pytest.mark.browser
def test_the_evaluations_chart_gives_its_means_in_spanish_number_format(browser, live_server, make):
    _evaluated(make)
    admin = make.admin()
    with browsing_as(browser, live_server.url, Site(users={"admin": admin}), "admin", "es") as page:
        visit(page, DASHBOARD, "es")
        page.wait_for_selector("#chart-evaluations[data-ready=true]")
        labels = page.evaluate("Chart.getChart(document.getElementById('chart-evaluations')).data.labels")
        assert any(label.endswith(": 4,50)") for label in labels), labels
        assert any(label.endswith(": 4,00)") for label in labels), labels
        assert page.evaluate("Chart.getChart(document.getElementById('chart-evaluations')).options.scales.y.position") \
            == "left"


@pytest.mark.browser
@pytest.mark.parametrize("path", [DASHBOARD, f"/reports/evaluations?from={YEAR}-01-01&to={YEAR}-12-31"])
def test_the_rating_tables_keep_their_words_whole_on_an_arabic_phone(browser, live_server, make, path):
    _evaluated(make)
    admin = make.admin()
    with browsing_as(browser, live_server.url, Site(users={"admin": admin}), "admin", "ar", width=360) as page:
        visit(page, path, "ar")
        page.evaluate("document.querySelectorAll('details.chart-table').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # No heading or figure cut mid-word ("الحاض/رون", "4.0/0"): a word wider than its column makes
        # the table scroll in its own box instead.
        # (The column headings of the stacked table are there for assistive technology only, clipped to a
        # pixel: each card's cells carry their names.)
        cut = page.evaluate("""() => [...document.querySelectorAll('#evaluation-ratings th, #evaluation-ratings td')]
            .filter(cell => !cell.closest('thead') || cell.closest('thead').getBoundingClientRect().width > 1)
            .filter(cell => cell.textContent.trim().split(/\\s+/).some(word => {
                const probe = document.createElement('span'); probe.textContent = word;
                probe.style.whiteSpace = 'nowrap'; cell.appendChild(probe);
                const wide = probe.getBoundingClientRect().width > cell.clientWidth + 1; probe.remove(); return wide; }))
            .map(cell => cell.textContent.trim())""")
        assert cut == [], cut
        # Nor does the rating table scroll in its own box: each question is a card, its five counts side by side.
        box = page.evaluate("""() => { const box = document.getElementById('evaluation-ratings').closest('.table-scroll');
            return [box.scrollWidth, box.clientWidth]; }""")
        assert box[0] <= box[1], box
        assert page.evaluate("getComputedStyle(document.querySelector('#evaluation-ratings tbody tr')).display") == "grid"
        # Still a table to assistive technology (the browser's own accessibility tree, not Playwright's guess).
        cdp = page.context.new_cdp_session(page)
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]

        def role(selector: str) -> str:
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
            return cdp.send("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False}
                            )["nodes"][0]["role"]["value"]

        assert [role(f"#evaluation-ratings {part}") for part in ("", "tbody tr", "tbody th", "td.wide", "td.count")] \
            == ["table", "row", "rowheader", "cell", "cell"]
