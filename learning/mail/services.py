"""Compose e-mails in the recipient's language and deliver them over SMTP.

Without ``MAIL_SERVER`` (the embedded default) messages are written as
``.eml`` files under ``MAIL_OUTBOX_DIR`` so a developer can read them.
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale

from learning.outbox.services import emit


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
        "mail.send",
        {
            "to": to,
            **message,
            "headers": headers or {},
            "message_id": make_msgid(domain="learning.local", idstring=uuid.uuid4().hex[:8]),
        },
    )


def build_message(payload: dict) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = payload["to"]
    msg["Subject"] = payload["subject"]
    msg["Message-ID"] = payload.get("message_id") or make_msgid(domain="learning.local")
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    # After the body: set_content() drops Content-* headers (e.g. Content-Language) set before it.
    for key, value in (payload.get("headers") or {}).items():
        msg[key] = value
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
    deliver(payload)
