"""Page weight of the learner's pages: bytes and requests, first visit and repeat visit.

Serves the app with gunicorn (as deployed) on a fresh SQLite database with one course and one
enrolled learner, then opens each learner page in Debian's Chromium through Playwright, signed
in: first with an empty cache, then again (repeat visit). For each page it prints the bytes
transferred (as the server sent them; this app does not compress, a reverse proxy does) and
the same bodies gzip-compressed (what a proxy with gzip would send), and the number of
requests. Then, under Chromium's emulation of a slow 3G link (400 kbit/s, 400 ms round trip),
the time until the lesson's text is in the page.

    .venv/bin/python -m bench.page_weight
    COMPRESS_RESPONSES=false .venv/bin/python -m bench.page_weight   # as before Brotli: uncompressed

Writes bench/results/page_weight.json. Figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, start_gunicorn, stop, write_result

CHROMIUM = os.environ.get("LEARNING_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "a-Good-password-42"

SEED = """
from flask_migrate import upgrade
from learning import create_app
from learning.extensions import db
from learning.accounts import services as accounts
from learning.catalogue.services import create_course, publish_course
from learning.enrolment.services import enrol
app = create_app()
with app.app_context():
    upgrade(directory="migrations")
    user = accounts.register_user({"email": "learner@example.org", "password": %(password)r,
        "full_name": "Ana Gómez", "country": "CO", "sector": "law_enforcement", "language": "en"},
        roles=[], send_verification=False)
    body = "\\n\\n".join(["Recognising the signs of abuse takes attention to what a child says and does. "
                          "A professional listens, records what was said in the child's words, and reports "
                          "it through the proper channel the same day."] * 6)
    course = create_course(None, {"slug": "weight", "title": "Recognising abuse", "summary": "What to look for.",
        "language": "en", "pass_mark": 50, "modules": [{"title": "Signs", "lessons": [
            {"title": "Listening", "body": "# Listening\\n\\n" + body}, {"title": "Recording", "body": body}]}],
        "quiz": {"questions": [{"text": "Who reports?", "choices": [{"text": "You", "correct": True},
                                                                    {"text": "Nobody", "correct": False}]}]}})
    publish_course(None, course)
    db.session.commit()
    enrolment = enrol(user, course)
    db.session.commit()
    lesson = course.modules[0].lessons[0].id
    print(enrolment.id, lesson)
"""


def seed(env: dict) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", SEED % {"password": PASSWORD}], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[-2]), int(out[-1])


def measure(page, cdp, url: str) -> dict:
    sizes: dict[str, int] = {}
    wire_bodies: dict[str, int] = {}
    gzipped = 0
    requests = 0
    encodings: dict[str, int] = {}
    unencoded: list[str] = []

    def finished(event):
        sizes[event["requestId"]] = event.get("encodedDataLength", 0)

    def received(event):
        wire_bodies[event["requestId"]] = wire_bodies.get(event["requestId"], 0) + event.get("encodedDataLength", 0)

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.dataReceived", received)
    bodies: list[bytes] = []

    def response(resp):
        nonlocal requests
        requests += 1
        encoding = resp.headers.get("content-encoding", "identity") if resp.status == 200 else str(resp.status)
        encodings[encoding] = encodings.get(encoding, 0) + 1
        if encoding != "br":
            unencoded.append(f"{resp.status} {resp.url.rsplit('/', 1)[-1]}")
        try:
            bodies.append(resp.body())
        except Exception:  # noqa: BLE001 (a redirect has no body)
            pass

    page.on("response", response)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    page.remove_listener("response", response)
    gzipped = sum(len(gzip.compress(body, 6)) for body in bodies)
    cdp.remove_listener("Network.loadingFinished", finished)
    cdp.remove_listener("Network.dataReceived", received)
    return {"bytes": sum(sizes.values()), "wire_body_bytes": sum(wire_bodies.values()),
            "body_bytes": sum(len(b) for b in bodies), "gzip_bytes": gzipped,
            "requests": requests, "encodings": encodings, "not_brotli": unencoded}


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'weight.sqlite3'}",
               "CELERY_BROKER_URL": "filesystem://", "STORAGE_DIR": tmp, "LEARNING_ENV": "development",
               "SECRET_KEY": "page-weight-bench-" + "x" * 40}
        enrolment, lesson = seed(env)
        proc, base = start_gunicorn("learning:create_app()", env, workers=1, threads=4)
        try:
            pages = {"catalogue": "/courses/", "course": "/courses/weight", "lesson":
                     f"/learning/{enrolment}/lessons/{lesson}", "quiz": f"/learning/{enrolment}/quiz",
                     "my learning": "/learning/", "certificates": "/certificates"}
            figures: dict[str, dict] = {}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                for name, path in pages.items():
                    context = browser.new_context(base_url=base, service_workers="block")
                    page = context.new_page()
                    page.goto("/account/login")
                    page.fill("#email", "learner@example.org")
                    page.fill("#password", PASSWORD)
                    page.locator("form.stack button[type=submit]").click()
                    page.wait_for_load_state()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.clearBrowserCache")
                    first = measure(page, cdp, path)
                    repeat = measure(page, cdp, path)
                    figures[name] = {"first": first, "repeat": repeat}
                    context.close()
                timings = []
                for _attempt in range(3):  # the median of three first visits (the machine is shared)
                    context = browser.new_context(base_url=base, service_workers="block")  # a first visit
                    page = context.new_page()
                    page.goto("/account/login")
                    page.fill("#email", "learner@example.org")
                    page.fill("#password", PASSWORD)
                    page.locator("form.stack button[type=submit]").click()
                    page.wait_for_load_state()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.clearBrowserCache")
                    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 400,
                             "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8,
                             "connectionType": "cellular3g"})
                    page.goto(pages["lesson"], wait_until="commit")
                    # From navigation start (the browser's own clock) to the lesson's first paragraph shown.
                    page.locator(".lesson-body p").first.wait_for(state="visible")
                    text_at = page.evaluate("performance.now()") / 1000
                    load = page.evaluate("new Promise(r => window.addEventListener('load', () => r(performance.now()))"
                                         " || document.readyState === 'complete' && r(performance.now()))")
                    print(f"slow 3G: text at {text_at:.2f} s, load at {load / 1000:.2f} s")
                    timings.append(text_at)
                    context.close()
                slow_3g = sorted(timings)[1]
                browser.close()
        finally:
            stop(proc)
    # first KB: all bytes received, headers included; sent KB: the bodies as sent (compressed or not);
    # body KB: the bodies' own size; gzip KB: the same bodies gzip-compressed.
    print(f"{'page':<14}{'first KB':>10}{'sent KB':>9}{'body KB':>9}{'gzip KB':>9}{'req':>5}"
          f"{'repeat KB':>11}{'req':>5}  not Brotli")
    for name, f in figures.items():
        print(f"{name:<14}{f['first']['bytes'] / 1024:>10.1f}{f['first']['wire_body_bytes'] / 1024:>9.1f}"
              f"{f['first']['body_bytes'] / 1024:>9.1f}{f['first']['gzip_bytes'] / 1024:>9.1f}"
              f"{f['first']['requests']:>5}{f['repeat']['bytes'] / 1024:>11.1f}{f['repeat']['requests']:>5}"
              f"  {', '.join(f['first']['not_brotli'])}")
    print(f"lesson text readable on slow 3G (400 kbit/s, 400 ms RTT), empty cache, median of 3: {slow_3g:.2f} s")
    name = "page_weight" if os.environ.get("COMPRESS_RESPONSES", "true").lower() in ("1", "true", "yes", "on") \
        else "page_weight_uncompressed"
    path = write_result(name, {"pages": figures, "lesson_text_slow_3g_seconds": round(slow_3g, 2)})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
