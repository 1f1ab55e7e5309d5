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


def test_the_hot_paths_rounds_are_in_the_table_beside_the_runs_ratio(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    hot = {"platform": {"requests_per_second": 600.0, "p95_ms": 90.0}, "bare_flask_one_write": {
        "requests_per_second": 1100.0, "p95_ms": 40.0}, "bare_to_platform_throughput_ratio": 1.83,
        "round_ratios": [1.9, 2.03, 1.7], "integrity": {"counted_once": True}, "load_average_before": [1.0, 1.0, 1.0]}
    (tmp_path / "hot_path.json").write_text(json.dumps(hot))
    (tmp_path / "hot_path_cpu.json").write_text(json.dumps({
        "direct_cpu_ms_per_request": 1.25, "through_sqlalchemy_cpu_ms_per_request": 1.5}))
    rows = {row[0]: row for row in summary.rows()}
    assert rows["hot path: floor/platform ratio"][1:5] == (1.83, "x", "<= 2", True)
    assert rows["hot path: the worst round's ratio (of the alternated rounds)"][1:5] == (2.03, "x", "(the run's above)",
                                                                                          None)
    assert rows["hot path: CPU per request in one process"][1] == 1.25
    summary.main()
    assert "2.03 x" in capsys.readouterr().out
