"""Test plumbing that is not a fixture: databases, the statements a block sends, free ports, a real SMTP
server, and the helpers of the browser tests on phones (signing in, reading a QR code off the screen, the
offline queue)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.engine import make_url


@contextmanager
def statements():
    """The SQL statements sent to the app's database inside the block (white space folded), in order."""
    from learning.extensions import db

    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", log)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url(worker_id: str, tmp_dir: str) -> str:
    """PostgreSQL from ``LEARNING_TEST_DATABASE_URL`` (one database per xdist worker), else SQLite."""
    base = os.environ.get("LEARNING_TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_dir}/test.sqlite3"
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base)
    name = f"{url.database}_{worker_id}"
    _create_postgres_database(url, name)
    return url.set(database=name).render_as_string(hide_password=False)


def _create_postgres_database(url, name: str) -> None:
    import psycopg

    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"LEARNING_TEST_DATABASE_URL is set but PostgreSQL cannot be reached ({exc}). "
            "Start PostgreSQL or unset the variable to test on SQLite."
        ) from exc


@dataclass
class Mailbox:
    """Messages received by the test SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    # What the server received, unparsed: (envelope recipients, the message's bytes), in order.
    raw: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.raw.clear()

    def raw_to(self, address: str) -> list[tuple[list[str], bytes]]:
        """The envelopes and bytes of the messages whose ``To`` names ``address``."""
        with self.lock:
            return [raw for message, raw in zip(self.messages, self.raw, strict=True)
                    if address.lower() in message["To"].lower()]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in m["To"].lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 60.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) to {address}, got {len(self.to(address))}")


class _Handler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.mailbox.lock:
            self.mailbox.messages.append(message)
            self.mailbox.raw.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


def start_smtp_server(port: int | None = None):
    """A real SMTP server (aiosmtpd) on loopback; returns (controller, mailbox)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    for attempt in range(5):
        # A port found free can be taken before aiosmtpd binds it (xdist workers start their servers
        # at once): another free port then.
        controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=port or free_port())
        try:
            controller.start()
        except OSError:
            if port or attempt == 4:
                raise
            continue
        return controller, mailbox
    raise AssertionError("unreachable")


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


# --- phones in a real browser (Playwright) ---------------------------------------------------

# The offline queue of a page (IndexedDB ``learning-offline``): the events waiting to be sent.
QUEUED_EVENTS = """() => new Promise(r => { const q = indexedDB.open('learning-offline', 2);
    q.onupgradeneeded = () => { q.result.createObjectStore('events', {keyPath: 'id'});
                                q.result.createObjectStore('rejected', {keyPath: 'id'}); };
    q.onsuccess = () => { const g = q.result.transaction('events').objectStore('events').getAll();
    g.onsuccess = () => { q.result.close(); r(g.result); }; }; })"""


def phone_options(width: int = 360) -> dict:
    """Browser context options of a phone ``width`` CSS pixels wide, with a touch screen."""
    return {"viewport": {"width": width, "height": 740}, "is_mobile": True, "has_touch": True}


def sign_in_on(page, email: str) -> None:
    """Fill in and send the sign-in form the page shows (a protected page redirects to it)."""
    from tests.factories import PASSWORD

    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("form[action$='/account/logout']", state="attached")  # signed in, the next page shown
    page.wait_for_load_state()  # that page's, now that it is the page's document: read whole, not half parsed


def scan_qr(image, tmp_path) -> str:
    """Read the QR code as a phone's camera would: from the pixels on the screen."""
    import pytest

    if not shutil.which("zbarimg"):
        pytest.fail("Reading the QR code needs zbarimg (zbar-tools).")
    shot = tmp_path / "qr.png"
    image.screenshot(path=str(shot))
    return subprocess.run(["zbarimg", "--quiet", "--raw", str(shot)], check=True, capture_output=True,
                          text=True).stdout.strip()


def fits_width(page) -> bool:
    """Whether the page fits the screen's width (nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def outwait_a_coming_reload(page, margin: int = 20) -> None:
    """If the page reloads itself within ``margin`` seconds (the room's check-in screen shows each minute's
    code by itself: ``data-refresh-seconds``), wait for that reload to be over, so that what is read next
    is read from one and the same page. The marker is set in the page that says when it reloads, in the
    same evaluation: only the reloaded page lacks it."""
    seconds = page.evaluate("""() => { const screen = document.querySelector('[data-refresh-seconds]');
        if (!screen) return null; window.__walkMarker = true; return Number(screen.dataset.refreshSeconds); }""")
    if seconds is not None and seconds <= margin:
        page.wait_for_function("() => !window.__walkMarker && document.readyState === 'complete'",
                               timeout=(seconds + 30) * 1000)


def the_check_in_screen(screen, tmp_path) -> tuple[str, str]:
    """The code the room's screen shows and the address its QR code holds, read off the same page (which
    has loaded, its QR image too, and will not load the next minute's code meanwhile)."""
    screen.wait_for_url("**/check-in-code")
    outwait_a_coming_reload(screen)
    code = screen.locator("#check-in-code").get_attribute("data-code")
    return code, scan_qr(screen.locator("img.check-in-qr"), tmp_path)
