"""Sending e-mail through the configured SMTP relay (stdlib smtplib)."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.config import SmtpSettings
from core.errors import DependencyUnavailable


def send_email(smtp: SmtpSettings, to: tuple[str, ...], subject: str, body: str) -> None:
    """One plain-text message. Raises DependencyUnavailable when the relay cannot be reached or
    refuses, so the job that sends it retries."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, ", ".join(to), subject
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid()
    message.set_content(body)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user and smtp.password:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DependencyUnavailable(f"邮件服务器未接收该邮件：{exc}", code="smtp_failed") from exc
