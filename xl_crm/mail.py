"""Emailing the monthly customer-value report workbook to managers over SMTP.

Settings come from the environment (``XL_CRM_SMTP_*``, ``XL_CRM_MAIL_FROM``), which an INI
config file (section ``[mail]``) may add to. Transport security is STARTTLS by default,
with certificate verification on; plain SMTP (``none``) is allowed on a loopback host only.
The password is never printed, logged, written into a message or put in an error message.
Standard library only.
"""

from __future__ import annotations

import configparser
import html
import ipaddress
import os
import smtplib
import socket
import ssl
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from .core.errors import XlCrmError
from .i18n import LANGS, text
from .keyfigures import ReportSummary, TierRow
from .output import atomic_output

SECURITIES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
MIME_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
}

# setting -> (environment variable, key in the [mail] section of the config file)
ENV_VARS = {
    "host": ("XL_CRM_SMTP_HOST", "host"),
    "port": ("XL_CRM_SMTP_PORT", "port"),
    "security": ("XL_CRM_SMTP_SECURITY", "security"),
    "user": ("XL_CRM_SMTP_USER", "user"),
    "password": ("XL_CRM_SMTP_PASSWORD", "password"),
    "sender": ("XL_CRM_MAIL_FROM", "from"),
    "timeout": ("XL_CRM_SMTP_TIMEOUT", "timeout"),
    "cafile": ("XL_CRM_SMTP_CAFILE", "cafile"),
}
CONFIG_VAR = "XL_CRM_CONFIG"
CONFIG_SECTION = "mail"

# Messages are built with 7-bit transfer encodings (quoted-printable/base64 bodies), so
# they pass any SMTP server, also one without 8BITMIME.
MESSAGE_POLICY = policy.default.clone(cte_type="7bit")
# Bcc addresses travel on the message object only, never in a header.
_BCC_ATTR = "_xl_crm_bcc"
_BAD_ADDRESS_CHARS = set(',;<>()[]"\\')


class MailError(XlCrmError):
    """A mail setting, address or SMTP exchange failed; a single line, never the password."""


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (the only hosts plain SMTP may use)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_security(host: str, security: str) -> None:
    if security not in SECURITIES:
        raise MailError(f"SMTP security must be starttls, ssl or none, not {security!r} "
                        f"(set {ENV_VARS['security'][0]})")
    if security == "none" and not is_loopback(host):
        raise MailError(f"SMTP security 'none' sends mail unencrypted and is only allowed for "
                        f"a loopback host (localhost, 127.x.x.x, ::1), not {host!r}; "
                        f"set {ENV_VARS['security'][0]} to starttls or ssl")


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a plain ``local@domain`` address, or None when it is."""
    if address.count("@") != 1:
        return "it must contain exactly one @"
    local, domain = address.split("@")
    if not local or not domain:
        return "it needs text on both sides of the @"
    if any(ch.isspace() for ch in address):
        return "it must not contain spaces"
    if any(ch in _BAD_ADDRESS_CHARS or ord(ch) < 32 for ch in address):
        return "it must not contain commas, semicolons, brackets or quotes (one address each)"
    return None


def check_address(address: str, role: str = "recipient") -> str:
    """The address without surrounding blanks; MailError naming it when it is malformed."""
    if not isinstance(address, str):
        raise MailError(f"bad {role} address {address!r}: not text")
    text = address.strip()
    problem = _address_problem(text)
    if problem:
        raise MailError(f"bad {role} address {address!r}: {problem}")
    return text


def _addresses(values: Sequence[str] | str, role: str) -> tuple[str, ...]:
    if isinstance(values, str):  # one address given instead of a list
        values = [values]
    return tuple(check_address(value, role) for value in values)


def _sender_address(sender: str) -> str:
    """The bare address of a sender written as ``addr`` or ``Name <addr>``."""
    _, addr = parseaddr(sender)
    if not addr or (addr != sender.strip() and "<" not in sender):
        addr = sender.strip()
    problem = _address_problem(addr)
    if problem:
        raise MailError(f"bad sender address {sender!r} (set {ENV_VARS['sender'][0]}): {problem}")
    return addr


@dataclass(frozen=True)
class MailSettings:
    """How to reach the SMTP server and who sends.

    ``security``: "starttls" (default), "ssl" (implicit TLS) or "none" (loopback host only).
    ``timeout`` in seconds for connecting and for each server reply. ``cafile``: a PEM file
    of extra certificate authorities to trust (e.g. a company CA), else the system's.
    The password is left out of ``repr``/``str``.
    """

    host: str
    port: int
    security: str
    user: str | None
    password: str | None = field(repr=False)
    sender: str
    timeout: float = 30.0
    cafile: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise MailError(f"no SMTP server: set {ENV_VARS['host'][0]}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 < self.port < 65536:
            raise MailError(f"SMTP port must be a whole number 1-65535, not {self.port!r}")
        _check_security(self.host, self.security)
        if not self.timeout > 0:
            raise MailError(f"SMTP timeout must be a positive number of seconds, "
                            f"not {self.timeout!r}")
        if not self.sender:
            raise MailError(f"no sender address: set {ENV_VARS['sender'][0]}")
        _sender_address(self.sender)

    @property
    def sender_address(self) -> str:
        """The bare sender address (the SMTP envelope sender)."""
        return _sender_address(self.sender)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             config: str | Path | None = None) -> MailSettings:
        """Settings from ``environ`` (default ``os.environ``) over the ``[mail]`` section of
        ``config`` (default: the file named by ``XL_CRM_CONFIG``, if set).

        Port defaults to 587 (starttls), 465 (ssl) or 25 (none); empty values count as unset.
        """
        env = os.environ if environ is None else environ
        if config is None and env.get(CONFIG_VAR, "").strip():
            config = env[CONFIG_VAR].strip()
        values = _read_config(Path(config).expanduser()) if config is not None else {}
        where = {name: f"{key} in the [{CONFIG_SECTION}] section of {config}"
                 for name, (_, key) in ENV_VARS.items() if name in values}
        for name, (var, _) in ENV_VARS.items():
            value = env.get(var)
            if value is not None and value.strip():
                values[name] = value if name == "password" else value.strip()
                where[name] = var

        host = values.get("host")
        if not host:
            raise MailError(f"no SMTP server: set {ENV_VARS['host'][0]} "
                            f"(or host in the [{CONFIG_SECTION}] section of the config file)")
        sender = values.get("sender")
        if not sender:
            raise MailError(f"no sender address: set {ENV_VARS['sender'][0]} "
                            f"(or from in the [{CONFIG_SECTION}] section of the config file)")
        security = values.get("security", "starttls").lower()
        if security not in SECURITIES:
            raise MailError(f"{where['security']} must be starttls, ssl or none, "
                            f"not {values['security']!r}")
        port = DEFAULT_PORTS[security]
        if "port" in values:
            try:
                port = int(values["port"])
            except ValueError:
                port = 0
            if not 0 < port < 65536:
                raise MailError(f"{where['port']} must be a port number 1-65535, "
                                f"not {values['port']!r}")
        timeout = 30.0
        if "timeout" in values:
            try:
                timeout = float(values["timeout"])
            except ValueError:
                timeout = 0.0
            if not 0 < timeout < float("inf"):
                raise MailError(f"{where['timeout']} must be a positive number of seconds, "
                                f"not {values['timeout']!r}")
        user, password = values.get("user"), values.get("password")
        if password is not None and user is None:
            raise MailError(f"an SMTP password is set ({where['password']}) but no user: "
                            f"set {ENV_VARS['user'][0]}")
        if user is not None and password is None:
            raise MailError(f"an SMTP user is set ({where['user']}) but no password: "
                            f"set {ENV_VARS['password'][0]}")
        return cls(host=host, port=port, security=security, user=user, password=password,
                   sender=sender, timeout=timeout, cafile=values.get("cafile"))


def _read_config(path: Path) -> dict[str, str]:
    """The ``[mail]`` section of an INI file (UTF-8, BOM allowed) as setting -> value."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        raise MailError(f"mail config file not found: {path}") from None
    except OSError as err:
        raise MailError(f"cannot read mail config file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise MailError(f"mail config file {path} is not UTF-8 text") from None
    except configparser.Error as err:
        # The parser's own message quotes the offending line, which may hold the password.
        line = getattr(err, "lineno", None)
        at = f" (line {line})" if line else ""
        raise MailError(f"mail config file {path} is not a valid INI file{at}") from None
    if not parser.has_section(CONFIG_SECTION):
        return {}
    keys = {key: name for name, (_, key) in ENV_VARS.items()}
    values = {}
    for key, value in parser.items(CONFIG_SECTION):
        if key not in keys:
            raise MailError(f"unknown key {key!r} in the [{CONFIG_SECTION}] section of {path} "
                            f"(known: {', '.join(keys)})")
        if value.strip():
            values[keys[key]] = value if key == "password" else value.strip()
    return values


MAIL_KEYS = ('subject', 'greeting', 'intro', 'key', 'customers', 'revenue', 'value', 'as_of', 'source', 'tiers', 'footer', 'colon', 'sent', 'nobody', 'refused')


def _texts(lang: str) -> dict:
    """The message's texts in ``lang`` (from ``data/labels.csv``, keys ``mail.*``)."""
    if lang not in LANGS:
        raise MailError(f"language must be en or zh, not {lang!r}")
    t: dict = {key: text(f"mail.{key}", lang) for key in MAIL_KEYS}
    t["columns"] = tuple(text(f"mail.column.{i}", lang) for i in range(5))
    t["basis"] = {b: text(f"mail.basis.{b}", lang) for b in ("profit", "net sales")}
    return t


def _oneline(text: object) -> str:
    """Text on one line (server replies and user data may hold line breaks)."""
    return " ".join(str(text).split())


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _share(value: float) -> str:
    return f"{value:.1%}"


def _tier_cell(row: TierRow) -> str:
    return row.label if not row.name or row.name == row.label else f"{row.label} – {row.name}"


def _width(text: str) -> int:
    """Display width in a monospaced font: East Asian wide characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def _figures(summary: ReportSummary, t: dict) -> list[tuple[str, str]]:
    basis = t["basis"].get(summary.value_basis, summary.value_basis)
    return [
        (t["customers"], f"{summary.customers:,}"),
        (t["revenue"], _money(summary.revenue)),
        (t["value"].format(basis=basis), _money(summary.value)),
        (t["as_of"], summary.as_of),
        (t["source"], summary.source),
    ]


def _tier_rows(summary: ReportSummary) -> list[tuple[str, ...]]:
    return [(_tier_cell(r), f"{r.customers:,}", _share(r.customer_share), _money(r.value),
             _share(r.value_share)) for r in summary.tiers]


def _text_body(summary: ReportSummary, filename: str, t: dict) -> str:
    figures = [(_oneline(k), _oneline(v)) for k, v in _figures(summary, t)]
    key_width = max(_width(k) for k, _ in figures) + 2
    lines = [t["greeting"], "", t["intro"].format(period=summary.period, file=filename), "",
             t["key"]]
    lines += ["  " + _pad(k + t["colon"], key_width, False) + v for k, v in figures]
    if summary.tiers:
        table = [t["columns"], *[tuple(_oneline(c) for c in row) for row in _tier_rows(summary)]]
        widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
        lines += ["", t["tiers"]]
        for row in table:
            cells = [_pad(c, w, i > 0) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append("  " + "  ".join(cells).rstrip())
    lines += ["", t["footer"], ""]
    return "\n".join(lines)


_CELL = "padding:4px 10px;border-bottom:1px solid #dddddd;"


def _html_body(summary: ReportSummary, filename: str, t: dict, lang: str) -> str:
    e = html.escape
    title = t["subject"].format(period=summary.period)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title></head>',
        ('<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;'
         'font-size:14px;color:#222222;background:#ffffff;">'),
        f'<h1 style="font-size:18px;margin:0 0 12px 0;">{e(title)}</h1>',
        f'<p style="margin:0 0 4px 0;">{e(t["greeting"])}</p>',
        (f'<p style="margin:0 0 16px 0;">'
         f'{e(t["intro"].format(period=summary.period, file=filename))}</p>'),
        f'<h2 style="font-size:15px;margin:0 0 6px 0;">{e(t["key"])}</h2>',
        '<table style="border-collapse:collapse;margin:0 0 16px 0;">',
    ]
    for key, value in _figures(summary, t):
        out.append(f'<tr><th style="text-align:left;font-weight:normal;color:#555555;'
                   f'padding:3px 16px 3px 0;">{e(key)}</th>'
                   f'<td style="padding:3px 0;">{e(value)}</td></tr>')
    out.append("</table>")
    if summary.tiers:
        out += [f'<h2 style="font-size:15px;margin:0 0 6px 0;">{e(t["tiers"])}</h2>',
                '<table style="border-collapse:collapse;margin:0 0 16px 0;">',
                "<tr>" + "".join(
                    f'<th style="{_CELL}background:#f2f2f2;'
                    f'text-align:{"left" if i == 0 else "right"};">{e(col)}</th>'
                    for i, col in enumerate(t["columns"])) + "</tr>"]
        for row in _tier_rows(summary):
            out.append("<tr>" + "".join(
                f'<td style="{_CELL}text-align:{"left" if i == 0 else "right"};">{e(cell)}</td>'
                for i, cell in enumerate(row)) + "</tr>")
        out.append("</table>")
    out += [f'<p style="margin:0;color:#777777;font-size:12px;">{e(t["footer"])}</p>',
            "</body></html>", ""]
    return "\n".join(out)


def _msgid_domain(sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1]
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "xl-crm.invalid"


def build_message(settings: MailSettings, report: Path, summary: ReportSummary,
                  to: Sequence[str], cc: Sequence[str] = (), bcc: Sequence[str] = (),
                  lang: str = "en") -> EmailMessage:
    """The report email: a text and an HTML body (alternatives) and the workbook attached.

    ``report`` must be an .xlsx or .xlsm file. Addresses are plain ``local@domain``; Bcc
    addresses are kept on the message object for :func:`send`, never in a header.
    """
    t = _texts(lang)
    to, cc, bcc = _addresses(to, "To"), _addresses(cc, "Cc"), _addresses(bcc, "Bcc")
    if not (to or cc or bcc):
        raise MailError("no recipients: give at least one To, Cc or Bcc address")
    report = Path(report)
    mime = MIME_TYPES.get(report.suffix.lower())
    if mime is None:
        raise MailError(f"the report must be an .xlsx or .xlsm workbook, not {report.name!r}")
    try:
        data = report.read_bytes()
    except OSError as err:
        raise MailError(f"cannot read the report {report}: {err.strerror or err}") from err

    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Subject"] = t["subject"].format(period=_oneline(summary.period))
    message["From"] = settings.sender
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_msgid_domain(settings.sender_address))
    message.set_content(_text_body(summary, report.name, t))
    message.add_alternative(_html_body(summary, report.name, t, lang), subtype="html")
    maintype, subtype = mime.split("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=report.name)
    setattr(message, _BCC_ATTR, bcc)
    return message


def message_recipients(message: EmailMessage) -> tuple[str, ...]:
    """Every envelope recipient of ``message``: To, Cc, and Bcc (kept off the headers)."""
    headers = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    found = [addr for _, addr in getaddresses(headers) if addr]
    found += getattr(message, _BCC_ATTR, ())
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class SendResult:
    """Who the server accepted, and who it refused (address -> server reply)."""

    accepted: tuple[str, ...]
    refused: dict[str, str]


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _oneline(f"{code} {text}")


def _reason(err: BaseException, timeout: float) -> str:
    if isinstance(err, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g} s"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({_oneline(err.strerror or err)})"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        # smtplib turns a timeout while waiting for a reply into "disconnected"
        if isinstance(err.__context__, (TimeoutError, socket.timeout)):
            return f"timed out after {timeout:g} s"
        return "the server closed the connection"
    if isinstance(err, OSError) and err.strerror:
        return _oneline(err.strerror)
    return _oneline(err) or type(err).__name__


def _tls_reason(err: ssl.SSLError) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {err.verify_message}"
        return reason + f" (to trust a private CA set {ENV_VARS['cafile'][0]})"
    return _oneline(err.reason or err)


def _context(settings: MailSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=settings.cafile)
    except (OSError, ssl.SSLError) as err:
        raise MailError(f"cannot load the CA file {settings.cafile}: "
                        f"{_oneline(getattr(err, 'strerror', None) or err)}") from None


def send(settings: MailSettings, message: EmailMessage,
         recipients: Sequence[str] | None = None) -> SendResult:
    """Send ``message``; recipients default to its To, Cc and Bcc addresses.

    Some refused recipients give a SendResult with ``refused`` filled; every other failure
    (unreachable server, TLS, login, all recipients refused) raises MailError.
    """
    recipients = (message_recipients(message) if recipients is None
                  else _addresses(recipients, "recipient"))
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
    _check_security(settings.host, settings.security)  # again: settings may be hand-made
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
    except (OSError, smtplib.SMTPException) as err:
        raise MailError(f"cannot reach SMTP server {where}: "
                        f"{_reason(err, settings.timeout)}") from err
    try:
        return _converse(smtp, settings, message, recipients, context, where)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _converse(smtp: smtplib.SMTP, settings: MailSettings, message: EmailMessage,
              recipients: tuple[str, ...], context: ssl.SSLContext | None,
              where: str) -> SendResult:
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
                smtp.login(settings.user, settings.password or "")
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


def write_eml(message: EmailMessage, path: Path) -> Path:
    """Write ``message`` as an .eml file (CRLF line ends) for a dry run; returns the path.

    Written to a temporary file in the same folder and renamed, so no partial file is left.
    """
    path = Path(path)
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    try:
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_bytes(data)
    except OSError as err:
        raise MailError(f"cannot write {path}: {err.strerror or err}") from err
    return path


def describe_result(result: SendResult, lang: str = "en") -> str:
    """One line: ``sent to a@x, b@y; refused: c@z (550 no such user)``."""
    t = _texts(lang)
    line = t["sent"].format(accepted=", ".join(result.accepted) or t["nobody"])
    if result.refused:
        listed = ", ".join(f"{addr} ({reply})" for addr, reply in result.refused.items())
        line += t["refused"].format(refused=listed)
    return line


DRY_RUN_SENDER = "xl-crm@localhost"


def mail_report(report: Path, summary: ReportSummary, to: Sequence[str] = (),
                cc: Sequence[str] = (), bcc: Sequence[str] = (), lang: str = "en",
                dry_run: bool = False, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """Email an existing report, or write ``REPORT.eml`` beside it for a dry run.

    Returns (one line saying what happened, True when every recipient was accepted).
    Settings come from :meth:`MailSettings.load`; a dry run needs none (the sender then
    defaults to ``XL_CRM_MAIL_FROM`` or ``xl-crm@localhost``).
    """
    report = Path(report)
    if dry_run:
        try:
            settings = MailSettings.load(environ)
        except MailError:
            env = os.environ if environ is None else environ
            settings = MailSettings(host="localhost", port=25, security="none", user=None,
                                    password=None,
                                    sender=env.get("XL_CRM_MAIL_FROM") or DRY_RUN_SENDER)
        message = build_message(settings, report, summary, to, cc, bcc, lang)
        eml = write_eml(message, report.with_suffix(".eml"))
        hidden = f" (Bcc, not in the file: {', '.join(bcc)})" if bcc else ""
        return f"dry run: message written to {eml}{hidden}", True
    settings = MailSettings.load(environ)
    message = build_message(settings, report, summary, to, cc, bcc, lang)
    result = send(settings, message)
    return describe_result(result, lang), not result.refused
