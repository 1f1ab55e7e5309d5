"""Test plumbing that is not a fixture: databases, free ports, a real SMTP server."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy.engine import make_url


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

    def wait_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
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
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, mailbox


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""
