"""A pytest plugin that fails the run when a collected test reports no result.

Under xdist a test is known by its node id; tests that share one (as schemathesis's own
``parametrize`` once made every operation's test share one) are run and reported once, and the
rest vanish without a failure. ``scripts/test.sh`` (so ``make test`` and ``.ci/run``) passes
``--every-test-reports``: the run then fails, naming the missing tests, when the number of tests
collected differs from the number that reported a result (passed, failed, skipped or errored).
A run stopped early (``-x``, Ctrl-C) is not judged.
"""

from __future__ import annotations

from collections import Counter

import pytest

OPTION = "--every-test-reports"


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, action="store_true", default=False,
                     help="fail the run if a collected test reports no result (duplicate ids, lost xdist reports)")


def register(config: pytest.Config) -> None:
    """Count in the process that sees every report: the controller under xdist, else the only one."""
    if config.getoption(OPTION) and not hasattr(config, "workerinput") and not config.getoption("collectonly"):
        config.pluginmanager.register(ReportCounter(), "every-test-reports")


class ReportCounter:
    def __init__(self) -> None:
        self.collected: list[str] | None = None
        self.reported: set[str] = set()
        self.problem: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        if self.collected is None:  # every worker collects the same tests
            self.collected = list(ids)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput") and session.items:
            self.collected = [item.nodeid for item in session.items]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.reported.add(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus) -> None:
        if self.collected is None or session.shouldstop or exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        duplicates = sorted(nodeid for nodeid, n in Counter(self.collected).items() if n > 1)
        missing = sorted(set(self.collected) - self.reported)
        if len(self.collected) != len(self.reported) or missing:
            self.problem = (f"{len(self.collected)} tests collected but {len(self.reported)} reported a result"
                            + (f"; ids shared by several tests: {duplicates[:10]}" if duplicates else "")
                            + (f"; no result from: {missing[:10]}" if missing else ""))
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.problem:
            terminalreporter.write_sep("=", "not every collected test reported", red=True)
            terminalreporter.write_line(self.problem)
        elif self.collected is not None:
            terminalreporter.write_line(f"every test reported: {len(self.reported)} of {len(self.collected)} collected")
