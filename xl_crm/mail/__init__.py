"""Emailing the monthly customer-value report workbook to managers over SMTP.

Settings come from the environment (``XL_CRM_SMTP_*``, ``XL_CRM_MAIL_FROM``), which an INI
config file (section ``[mail]``) may add to. Transport security is STARTTLS by default,
with certificate verification on; plain SMTP (``none``) is allowed on a loopback host only.
The password is never printed, logged, written into a message or put in an error message,
in any form (no character of it, no position, no length). Login sends the UTF-8 bytes of
user and password. Standard library only; ``smtplib``/``ssl`` are imported only when
sending (xlwings Lite's Pyodide has no ``ssl`` unless loaded), so building a message and
a dry run work without them.

One job per module: :mod:`.settings` (settings and addresses), :mod:`.message` (the
email) and :mod:`.transport` (SMTP, and :func:`mail_report`, the job the CLI and the
button run).
"""

from .message import build_message, message_recipients, write_eml
from .settings import MailError, MailSettings, is_loopback, parse_addresses
from .transport import SendResult, describe_result, mail_report, send

__all__ = [
    "MailError",
    "MailSettings",
    "SendResult",
    "build_message",
    "describe_result",
    "is_loopback",
    "mail_report",
    "message_recipients",
    "parse_addresses",
    "send",
    "write_eml",
]
