"""Sending over SMTP (:func:`send`): STARTTLS or SSL with certificate verification, login
with UTF-8 user and password, every failure as one line without the password; and the
job of the CLI and the button (:func:`mail_report`). ``smtplib`` and ``ssl`` are imported
only here and only when sending.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from ..keyfigures import ReportSummary
from .message import BCC_ATTR, build_message, mail_texts, message_recipients, oneline, write_eml
from .settings import ENV_VARS, MailError, MailSettings, addresses, check_security

if TYPE_CHECKING:
    import smtplib
    import ssl


@dataclass(frozen=True)
class SendResult:
    """Who the server accepted, and who it refused (address -> server reply)."""

    accepted: tuple[str, ...]
    refused: dict[str, str]


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return oneline(f"{code} {text}")


def _reason(err: BaseException, timeout: float) -> str:
    import smtplib
    import socket

    if isinstance(err, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out after {timeout:g} s"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({oneline(err.strerror or err)})"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        # smtplib turns a timeout while waiting for a reply into "disconnected"
        if isinstance(err.__context__, TimeoutError):
            return f"timed out after {timeout:g} s"
        return "the server closed the connection"
    if isinstance(err, UnicodeError):  # the host name is no valid IDNA name
        return "the host name is not a valid domain name"
    if isinstance(err, OSError) and err.strerror:
        return oneline(err.strerror)
    return oneline(err) or type(err).__name__


def _tls_reason(err: ssl.SSLError) -> str:
    import ssl

    if isinstance(err, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {err.verify_message}"
        return reason + f" (to trust a private CA set {ENV_VARS['cafile'][0]})"
    return oneline(err.reason or err)


def _context(settings: MailSettings) -> ssl.SSLContext:
    import ssl

    try:
        return ssl.create_default_context(cafile=settings.cafile)
    except (OSError, ssl.SSLError) as err:
        raise MailError(f"cannot load the CA file {settings.cafile} "
                        f"(set by {ENV_VARS['cafile'][0]} or cafile in the config file): "
                        f"{oneline(getattr(err, 'strerror', None) or err)}") from None


def send(settings: MailSettings, message: EmailMessage,
         recipients: Sequence[str] | None = None) -> SendResult:
    """Send ``message``; recipients default to its To, Cc and Bcc addresses.

    Some refused recipients give a SendResult with ``refused`` filled; every other failure
    (unreachable server, TLS, login, all recipients refused) raises MailError, whose text
    and chained exceptions never hold the password.
    """
    recipients = (message_recipients(message) if recipients is None
                  else addresses(recipients, "recipient"))
    if not recipients:
        raise MailError("no recipients: the message has no To, Cc or Bcc address")
    try:
        return _send(settings, message, recipients)
    except MailError as err:
        text = str(err)
        if settings.password and settings.password in text:
            raise MailError(text.replace(settings.password, "***")) from None
        raise


def _send(settings: MailSettings, message: EmailMessage,
          recipients: tuple[str, ...]) -> SendResult:
    import smtplib
    import ssl

    check_security(settings.host, settings.security)  # again: settings may be hand-made
    where = f"{settings.host}:{settings.port}"
    context = _context(settings) if settings.security != "none" else None
    try:
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                  timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except ssl.SSLError as err:
        raise MailError(f"TLS with {where} failed: {_tls_reason(err)}") from err
    except smtplib.SMTPConnectError as err:
        raise MailError(f"the SMTP server {where} refused the connection "
                        f"({_reply(err.smtp_code, err.smtp_error)})") from err
    except (OSError, UnicodeError, smtplib.SMTPException) as err:
        raise MailError(f"cannot reach SMTP server {where}: "
                        f"{_reason(err, settings.timeout)}") from err
    try:
        return _converse(smtp, settings, message, recipients, context, where)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _utf8(value: str, setting: str) -> bytes:
    """The UTF-8 bytes of a login credential (a non-UTF-8 environment value gives back its
    own bytes); MailError naming ``setting`` - never the value - when it cannot be sent."""
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        raise MailError(f"{ENV_VARS[setting][0]} is not valid text") from None
    if b"\0" in data:
        raise MailError(f"{ENV_VARS[setting][0]} holds a NUL character, "
                        f"which SMTP login cannot send") from None
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _challenge(reply: bytes) -> bytes:
    try:
        return base64.b64decode(reply)
    except ValueError:
        return b""


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with the UTF-8 bytes of ``user`` and ``password`` (smtplib's own login sends
    ASCII only): AUTH PLAIN (RFC 4616, UTF-8) when offered, else LOGIN, else CRAM-MD5.

    SMTPAuthenticationError when refused, SMTPNotSupportedError when no AUTH is offered.
    """
    import smtplib

    smtp.ehlo_or_helo_if_needed()
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if not offered:
        raise smtplib.SMTPNotSupportedError("AUTH not offered")
    name, secret = _utf8(user, "user"), _utf8(password, "password")
    first: bytes | None = None
    steps: list = []
    if "PLAIN" in offered:
        mechanism, first = "PLAIN", b"\0" + name + b"\0" + secret
    elif "LOGIN" in offered:
        mechanism, steps = "LOGIN", [lambda _: name, lambda _: secret]
    elif "CRAM-MD5" in offered:
        mechanism = "CRAM-MD5"
        steps = [lambda c: name + b" " + hmac.new(secret, c, "md5").hexdigest().encode()]
    else:
        raise smtplib.SMTPException(f"no login method in common (the server offers "
                                    f"{' '.join(offered)}; xl-crm speaks PLAIN, "
                                    f"LOGIN and CRAM-MD5)")
    sent = [] if first is None else [_b64(first)]
    code, reply = smtp.docmd("AUTH", f"{mechanism} {sent[0]}" if sent else mechanism)
    for step in steps:
        if code != 334:
            break
        sent.append(_b64(step(_challenge(reply))))
        code, reply = smtp.docmd(sent[-1])
    if code == 334:  # the server asks for more than the mechanism has: cancel (RFC 4954)
        code, reply = smtp.docmd("*")
    if code not in (235, 503):  # 503: already logged in
        for form in [token.encode() for token in sent] + [secret]:
            if form:  # a server may echo what it was sent
                reply = reply.replace(form, b"***")
        raise smtplib.SMTPAuthenticationError(code, reply)


def _converse(smtp: smtplib.SMTP, settings: MailSettings, message: EmailMessage,
              recipients: tuple[str, ...], context: ssl.SSLContext | None,
              where: str) -> SendResult:
    import smtplib
    import ssl

    stage = "the greeting"
    try:
        if settings.security == "starttls":
            stage = "STARTTLS"
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise MailError(f"the SMTP server {where} does not offer STARTTLS; "
                                f"check {ENV_VARS['port'][0]} or use security ssl")
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            stage = "login"
            try:
                _login(smtp, settings.user, settings.password or "")
            except smtplib.SMTPAuthenticationError as err:
                raise MailError(f"the SMTP server refused the login for user {settings.user!r} "
                                f"({_reply(err.smtp_code, err.smtp_error)})") from None
            except smtplib.SMTPNotSupportedError:
                raise MailError(f"the SMTP server {where} does not offer login (AUTH); "
                                f"unset {ENV_VARS['user'][0]} or use starttls/ssl") from None
        stage = "sending"
        refused = smtp.send_message(message, from_addr=settings.sender_address,
                                    to_addrs=list(recipients))
    except MailError:
        raise
    except ssl.SSLError as err:
        raise MailError(f"TLS with {where} failed: {_tls_reason(err)}") from err
    except smtplib.SMTPRecipientsRefused as err:
        listed = ", ".join(f"{addr} ({_reply(*reply)})" for addr, reply in err.recipients.items())
        raise MailError(f"the SMTP server refused every recipient: {listed}") from err
    except smtplib.SMTPSenderRefused as err:
        raise MailError(f"the SMTP server refused the sender {settings.sender_address!r} "
                        f"({_reply(err.smtp_code, err.smtp_error)})") from err
    except smtplib.SMTPResponseException as err:
        raise MailError(f"the SMTP server {where} answered {_reply(err.smtp_code, err.smtp_error)}"
                        f" during {stage}") from err
    except (OSError, smtplib.SMTPException) as err:
        raise MailError(f"SMTP with {where} failed during {stage}: "
                        f"{_reason(err, settings.timeout)}") from err
    bad = {addr: _reply(*reply) for addr, reply in refused.items()}
    return SendResult(accepted=tuple(r for r in recipients if r not in bad), refused=bad)


def describe_result(result: SendResult, lang: str = "en") -> str:
    """One line: ``sent to a@x, b@y; refused: c@z (550 no such user)``."""
    t = mail_texts(lang)
    line = t["sent"].format(accepted=", ".join(result.accepted) or t["nobody"])
    if result.refused:
        listed = ", ".join(f"{addr} ({reply})" for addr, reply in result.refused.items())
        line += t["refused"].format(refused=listed)
    return line


def mail_report(report: Path, summary: ReportSummary, to: Sequence[str] = (),
                cc: Sequence[str] = (), bcc: Sequence[str] = (), lang: str = "en",
                dry_run: bool = False, environ: Mapping[str, str] | None = None, *,
                overwrite: bool = False) -> tuple[str, bool]:
    """Email an existing report, or write ``REPORT.eml`` beside it for a dry run.

    Returns (one line saying what happened, True when every recipient was accepted).
    ``to``, ``cc``, ``bcc``: lists of values, each holding one or more addresses (see
    :func:`build_message`). Settings come from :meth:`MailSettings.load`; a dry run needs
    none (the sender then defaults to ``xl-crm@localhost``) and replaces an existing .eml
    only with ``overwrite``.
    """
    report = Path(report)
    if dry_run:
        settings = MailSettings.load(environ, dry_run=True)
        message = build_message(settings, report, summary, to, cc, bcc, lang)
        eml = write_eml(message, report.with_suffix(".eml"), overwrite=overwrite)
        hidden = getattr(message, BCC_ATTR)
        hidden = f" (Bcc, not in the file: {', '.join(hidden)})" if hidden else ""
        return f"dry run: message written to {eml}{hidden}", True
    settings = MailSettings.load(environ)
    message = build_message(settings, report, summary, to, cc, bcc, lang)
    result = send(settings, message)
    return describe_result(result, lang), not result.refused
