"""Kolibri's learner page beside ours: bytes, requests and slow-3G time to readable text.

Kolibri (the offline learning platform, on PyPI) is installed in a throwaway virtual environment
under /tmp (created on the first run; nothing of it goes into this project's environment),
given a facility with guest access, served on loopback, and its learner page (``/en/learn/``,
the Library, as a guest) opened in Debian's Chromium exactly as ``bench.page_weight`` opens ours:
empty cache then repeat visit, and under Chromium's slow-3G emulation (400 kbit/s, 400 ms) the
time until the page's text is shown. Kolibri's content comes from channels imported from
Kolibri Studio, which this machine cannot reach: the page measured has no lesson in it, so its
figures are what any Kolibri lesson costs at least (the single-page app), before the lesson's
viewer and content.

    .venv/bin/python -m bench.kolibri_weight

Writes bench/results/kolibri_weight.json. Figures: docs/PERFORMANCE.md, "Kolibri beside ours".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import write_result
from bench.page_weight import CHROMIUM, measure

VENV = Path(os.environ.get("KOLIBRI_BENCH_VENV", "/tmp/kolibri-bench-venv"))
HOME = Path(os.environ.get("KOLIBRI_BENCH_HOME", "/tmp/kolibri-bench-home"))
PORT = int(os.environ.get("KOLIBRI_BENCH_PORT", "8099"))
BASE = f"http://127.0.0.1:{PORT}"
PAGE = "/en/learn/#/library"


def install() -> Path:
    kolibri = VENV / "bin" / "kolibri"
    if not kolibri.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "kolibri"], check=True)
    return kolibri


def provision(kolibri: Path, env: dict) -> None:
    if (HOME / "db.sqlite3").exists():
        return
    subprocess.run([str(kolibri), "manage", "provisiondevice", "--facility", "Bench", "--preset", "formal",
                    "--superusername", "admin", "--superuserpassword", "a-Good-password-42",
                    "--language_id", "en", "--verbosity", "0", "--noinput"], env=env, check=True,
                   capture_output=True)


def wait_until_up(timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(BASE + "/", timeout=5)  # noqa: S310 (loopback)
            return
        except OSError:
            time.sleep(2)
    raise RuntimeError("Kolibri did not start")


def main() -> None:
    from playwright.sync_api import sync_playwright

    kolibri = install()
    env = {**os.environ, "KOLIBRI_HOME": str(HOME)}
    provision(kolibri, env)
    server = subprocess.Popen([str(kolibri), "start", "--foreground", "--port", str(PORT)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            context = browser.new_context(base_url=BASE, service_workers="block")
            page = context.new_page()
            page.goto("/", wait_until="load")  # the guest's session and language, as a visitor's first step
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.clearBrowserCache")
            first = measure(page, cdp, PAGE)
            repeat = measure(page, cdp, PAGE)
            context.close()
            timings = []
            for _attempt in range(3):  # bypass_csp: Kolibri's policy refuses the test's own waiting script
                context = browser.new_context(base_url=BASE, service_workers="block", bypass_csp=True)
                page = context.new_page()
                page.goto("/", wait_until="load")
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.clearBrowserCache")
                cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 400,
                         "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8,
                         "connectionType": "cellular3g"})
                page.goto(PAGE, wait_until="commit")
                page.wait_for_function("document.querySelector('main') && "
                                       "document.querySelector('main').innerText.trim().length > 0", timeout=120_000)
                timings.append(page.evaluate("performance.now()") / 1000)
                context.close()
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    slow_3g = sorted(timings)[1]
    print(f"Kolibri {PAGE}: first {first['bytes'] / 1024:.1f} KB ({first['wire_body_bytes'] / 1024:.1f} KB of bodies "
          f"as sent, {first['body_bytes'] / 1024:.1f} KB uncompressed), {first['requests']} requests; "
          f"repeat {repeat['bytes'] / 1024:.1f} KB, {repeat['requests']} requests")
    print(f"text shown on slow 3G, empty cache, median of 3: {slow_3g:.2f} s ({', '.join(f'{t:.2f}' for t in timings)})")
    path = write_result("kolibri_weight", {"page": PAGE, "first": first, "repeat": repeat,
                                           "text_slow_3g_seconds": round(slow_3g, 2), "timings": timings})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
