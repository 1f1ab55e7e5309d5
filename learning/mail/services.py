"""Compose e-mails in the recipient's language and deliver them over SMTP.

Without ``MAIL_SERVER`` (the embedded default) messages are written as
``.eml`` files under ``MAIL_OUTBOX_DIR`` so a developer can read them.

Headers are built here and nowhere else, and every value is made one line
first (``header_value``): a course title or a name holding CR/LF can neither
add a header nor make a message impossible to build (Python refuses such
values, so the mail would fail on every retry). ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` are written as they are, unfolded: the default policy
would encode a long URL as RFC 2047 words, which mail providers do not read as
the RFC 2369/8058 header they require.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select

from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from learning.outbox.services import MAIL_EVENT, OPEN_STATUSES, emit
from learning.text import single_line


def render_message(template: str, language: str, **context) -> dict:
    """Render ``templates/email/<template>.{txt,html}`` and its subject in ``language``."""
    with force_locale(language or "en"):
        subject = render_template(f"email/{template}.subject.txt", **context).strip()
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", **context)
    return {"subject": subject, "text": text, "html": html}


def queue_email(to: str, template: str, language: str, headers: dict | None = None, **context) -> None:
    """Render now, deliver later: an outbox event in the caller's transaction."""
    message = render_message(template, language, **context)
    emit(
        MAIL_EVENT,
        {
            "to": to,
            **message,
            "headers": headers or {},
            "message_id": make_msgid(domain="learning.local", idstring=uuid.uuid4().hex[:8]),
        },
    )


_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII except ":"
# Written unfolded: a URL must reach the receiver as written (RFC 2369, RFC 8058).
VERBATIM_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
MAX_LINE = 998  # RFC 5322 section 2.1.1


def header_value(value: object) -> str:
    """``value`` as one header line: no CR/LF (or any control character) can start another header."""
    return single_line(value)


class MailPolicy(EmailPolicy):
    """Python's default e-mail policy, but the list headers are written verbatim, never RFC 2047-encoded."""

    def _verbatim(self, name: str, value) -> str | None:
        text = str(value)
        line = f"{name}: {text}"
        if name.lower() in VERBATIM_HEADERS and text.isascii() and len(line) <= MAX_LINE:
            return line + self.linesep
        return None

    def fold(self, name, value):
        return self._verbatim(name, value) or super().fold(name, value)

    def fold_binary(self, name, value):
        line = self._verbatim(name, value)
        return line.encode("ascii") if line is not None else super().fold_binary(name, value)


MAIL_POLICY = MailPolicy()


def build_message(payload: dict) -> EmailMessage:
    """The message of a payload; every header value is one line, whatever the payload holds."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = header_value(current_app.config["MAIL_DEFAULT_SENDER"])
    msg["To"] = header_value(payload["to"])
    msg["Subject"] = header_value(payload["subject"])
    msg["Message-ID"] = header_value(payload.get("message_id") or make_msgid(domain="learning.local"))
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    # After the body: set_content() drops Content-* headers (e.g. Content-Language) set before it.
    for key, value in (payload.get("headers") or {}).items():
        if not _HEADER_NAME.fullmatch(str(key)):
            raise ValueError(f"not a header name: {key!r}")
        msg[key] = header_value(value)
    return msg


def deliver(payload: dict) -> None:
    """Send one message now; raises on failure so the caller can retry."""
    msg = build_message(payload)
    config = current_app.config
    if not config["MAIL_SERVER"]:
        folder = Path(config["MAIL_OUTBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        (folder / f"{name}.eml").write_bytes(bytes(msg))
        return
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(msg)


def send_queued_mail(payload: dict) -> None:
    """The outbox handler of ``mail.send`` (registered by ``learning.mail.init_app``)."""
    if payload.get("erased"):  # its recipient was erased before it went: nothing to send
        return
    deliver(payload)


ERASED_PAYLOAD = {"erased": True}


def _addressed_to(payload: dict, person) -> bool:
    return str(payload.get("to") or "").strip().lower() == person.email.strip().lower()


def _mentions(message: EmailMessage, person) -> bool:
    """Whether a written message names the person anywhere: its headers or any text part."""
    texts = [str(value) for value in message.values()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(part.get_content())
            except (LookupError, ValueError):  # an unreadable part: search its raw bytes
                texts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return any(person.mentioned_in_text(text) for text in texts)


def forget_person(person) -> int:
    """Erasure (DESIGN.md rule 8): the person's queued and sent mails keep nothing of them.

    Sent mails keep only their Message-ID (``keep_when_done``), so only mails not sent yet (pending,
    or failed and kept for an admin) are searched. One addressed to them is dropped: its payload
    (address, name, signed links) is replaced by ``{"erased": true}`` and it is marked done, so it
    never goes. One to someone else that names them (an invitation naming a trainer) is scrubbed.
    Mails written as ``.eml`` files (no ``MAIL_SERVER``) that name them are deleted. Returns how
    many queued mails were dropped.
    """
    dropped = 0
    query = select(OutboxEvent).where(
        OutboxEvent.event_type == MAIL_EVENT,
        OutboxEvent.status.in_(OPEN_STATUSES),
        person.mentioned_in_column(OutboxEvent.payload) | person.mentioned_in_column(OutboxEvent.last_error),
    )
    for outbox_event in db.session.scalars(query):
        if _addressed_to(outbox_event.payload or {}, person):
            outbox_event.payload = dict(ERASED_PAYLOAD)
            outbox_event.status, outbox_event.processed_at = "done", utcnow()
            dropped += 1
        else:
            outbox_event.payload = person.scrub(outbox_event.payload)
        outbox_event.last_error = person.scrub_text(outbox_event.last_error)
    _delete_written_mails(person)
    return dropped


def _delete_written_mails(person) -> None:
    """Delete the ``.eml`` files of ``MAIL_OUTBOX_DIR`` (the embedded default) that name the person."""
    folder = Path(current_app.config.get("MAIL_OUTBOX_DIR") or "")
    if not current_app.config.get("MAIL_OUTBOX_DIR") or not folder.is_dir():
        return
    for path in folder.glob("*.eml"):
        try:
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
        except OSError:
            continue
        if _mentions(message, person):
            path.unlink(missing_ok=True)


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(forget_person)
