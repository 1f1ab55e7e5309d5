"""``bench/summary.py`` prints every figure of issue 16 beside its aim: the any-period cases (each filter
combination, short and long periods) and the period index's build are among them, read from the results
``bench/report_summary.py`` writes; a result that is missing shows as not measured, not as an error."""

from __future__ import annotations

import json

from bench import summary


def test_the_any_period_cases_are_in_the_table_beside_their_aim(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    report = {"data": {"enrolments": 10_000_000}, "load_average_before": [1.2, 1.0, 0.9],
              "unaligned": {
                  "long (2017-03-15..2024-09-20), no filter": {
                      "endpoint": {"median_ms": 13.0}, "plain_sql_headline_only": {"median_ms": 2203.1}},
                  "short (2024-03-15..2024-09-20), country=AW": {
                      "endpoint": {"median_ms": 61.5}, "plain_sql_headline_only": {"median_ms": 629.4}}},
              "period_index": {"build_s": 133.0, "rss_before_mb": 194.5, "rss_after_mb": 2256.7,
                               "rss_peak_mb": 4158.1}}
    (tmp_path / "report_summary_10m.json").write_text(json.dumps(report))
    rows = {row[0]: row for row in summary.rows()}
    long = rows["10M any period: long (2017-03-15..2024-09-20), no filter"]
    assert long[1:5] == (13.0, "ms", "< 50", True) and "2,203 ms" in long[5] and long[6] == 1.2
    assert rows["10M any period: short (2024-03-15..2024-09-20), country=AW"][4] is False
    build = rows["10M period index: build (each web process)"]
    assert build[1] == 133.0 and "peak 4158.1 MB" in build[5]
    # Nothing else was measured: those lines say so, and the table still prints.
    assert rows["hot path: p95"][1] is None
    summary.main()
