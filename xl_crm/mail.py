"""Emailing the monthly customer-value report workbook to managers over SMTP.

Settings come from the environment (``XL_CRM_SMTP_*``, ``XL_CRM_MAIL_FROM``), which an INI
config file (section ``[mail]``) may add to. Transport security is STARTTLS by default,
with certificate verification on; plain SMTP (``none``) is allowed on a loopback host only.
The password is never printed, logged, written into a message or put in an error message,
in any form (no character of it, no position, no length). Login sends the UTF-8 bytes of
user and password. Standard library only; ``smtplib``/``ssl`` are imported only when
sending (xlwings Lite's Pyodide has no ``ssl`` unless loaded), so building a message and
a dry run work without them.
"""

from __future__ import annotations

import base64
import configparser
import hmac
import html
import ipaddress
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import smtplib
    import ssl

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
DRY_RUN_SENDER = "xl-crm@localhost"  # the sender of a dry run without one set
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


def _is_control(ch: str) -> bool:
    """Control characters and line/paragraph separators (header injection, broken lines)."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _check_line(value: str, setting: str) -> None:
    """MailError naming ``setting`` when ``value`` holds a line break or control character."""
    if any(_is_control(ch) for ch in value):
        raise MailError(f"{setting} must be one line without control characters "
                        f"(line breaks, tabs), not {value!r}")


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a plain ``local@domain`` address, or None when it is."""
    if any(_is_control(ch) for ch in address):
        return "it must not contain line breaks or other control characters"
    words = address.split()
    if len(words) > 1 and all("@" in word for word in words):
        return "separate several addresses with a comma or semicolon"
    if len(words) > 1 and words[-1].count("@") == 1 and "@" not in "".join(words[:-1]) \
            and not any(ch in address for ch in "<>"):
        return f"write a name with the address as {' '.join(words[:-1])} <{words[-1]}>"
    if address.count("@") != 1:
        return "it must contain exactly one @"
    local, domain = address.split("@")
    if not local or not domain:
        return "it needs text on both sides of the @"
    if any(ch.isspace() for ch in address):
        return "it must not contain spaces"
    if any(ch in _BAD_ADDRESS_CHARS for ch in address):
        return "it must not contain commas, semicolons, brackets or quotes (one address each)"
    return None


def _checked(addr: str) -> tuple[str | None, str]:
    """(why ``addr`` cannot be used or None, the address with its domain in ASCII).

    A non-ASCII domain is written in IDNA (``例子.中国`` -> ``xn--fsqu00a.xn--fiqs8s``);
    a non-ASCII local part needs SMTPUTF8, which the mailer does not use, so it is refused.
    """
    problem = _address_problem(addr)
    if problem:
        return problem, addr
    local, domain = addr.split("@")
    if not local.isascii():
        return ("only ASCII characters may come before the @ (international mailbox names "
                "are not supported)"), addr
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return "the part after the @ is not a valid domain name", addr
    return None, f"{local}@{domain}"


def _split(value: str) -> list[tuple[str, str]]:
    """``value`` cut at each ``,`` or ``;`` outside double quotes and ``<...>``:
    (piece, the separator after it or "")."""
    pieces: list[tuple[str, str]] = []
    start, quoted, angle, escaped = 0, False, False, False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = ch == "\\", ch != '"'
        elif ch == '"':
            quoted = True
        elif ch in "<>":
            angle = ch == "<"
        elif ch in ",;" and not angle:
            pieces.append((value[start:i], ch))
            start = i + 1
    pieces.append((value[start:], ""))
    return pieces


_NAMED = re.compile(r"(?P<name>.*?)\s*<(?P<addr>[^<>]*)>", re.DOTALL)


def _mailbox(piece: str) -> tuple[str, str] | str:
    """(display name, address) of ``addr``, ``<addr>``, ``Name <addr>`` or
    ``"Name" <addr>``; a string saying why not otherwise."""
    piece = piece.strip()
    named = _NAMED.fullmatch(piece)
    if named is None:
        problem, addr = _checked(piece)
        return problem or ("", addr)
    name, addr = named["name"], named["addr"].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        inner = name[1:-1]
        if re.search(r'(?<!\\)(?:\\\\)*"', inner):
            return "a quote inside a quoted name must be written \\\""
        name = re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)
    elif any(ch in '"<>' for ch in name):
        return "the name before <address> has unbalanced quotes or brackets"
    if any(_is_control(ch) for ch in name):
        return "it must not contain line breaks or other control characters"
    problem, addr = _checked(addr)
    return problem or (" ".join(name.split()), addr)


def _same(addr: str) -> str:
    """The key under which two addresses count as one: the domain is case-insensitive, the
    local part (before the @) is kept exactly, as RFC 5321 allows servers to tell it apart."""
    local, _, domain = addr.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_addresses(values: Sequence[str] | str, role: str,
                    seen: set[str] | None = None) -> tuple[tuple[str, str], ...]:
    """(display name, address) of every address in ``values``, in order.

    Each value may hold several addresses separated by ``,`` or ``;``; a display name that
    holds a comma or semicolon must be in double quotes (``"Smith, John" <a@b.c>``). An
    address already given (here or in ``seen``, which is updated) is left out, so each
    mailbox gets the message once. MailError naming the bad address otherwise.
    """
    if isinstance(values, str):  # one value given instead of a list
        values = [values]
    seen = set() if seen is None else seen
    found: list[tuple[str, str]] = []
    for value in values:
        if not isinstance(value, str):
            raise MailError(f"bad {role} address {value!r}: not text")
        pieces = _split(value)
        if all(not piece.strip() for piece, _ in pieces):
            raise MailError(f"bad {role} address {value!r}: it is empty")
        for i, (piece, _) in enumerate(pieces):
            if not piece.strip():
                continue  # "a@x, b@y," or "a@x;; b@y": nothing between the separators
            got = _mailbox(piece)
            if isinstance(got, str):
                raise MailError(f"bad {role} address {_written(pieces, i)!r}: "
                                f"{_quote_hint(pieces, i) or got}")
            if _same(got[1]) not in seen:
                seen.add(_same(got[1]))
                found.append(got)
    return tuple(found)


def _written(pieces: list[tuple[str, str]], i: int) -> str:
    """The bad piece as written, with the next one when together they are a name with a
    comma (``Smith, John <a@b.c>``)."""
    if _quote_hint(pieces, i):
        return (pieces[i][0] + pieces[i][1] + pieces[i + 1][0]).strip()
    return pieces[i][0].strip()


def _quote_hint(pieces: list[tuple[str, str]], i: int) -> str | None:
    """The advice to quote the name when ``pieces[i]`` (no @) and the next piece are one
    unquoted ``Name, More <addr>``."""
    if "@" in pieces[i][0] or "<" in pieces[i][0] or i + 1 >= len(pieces):
        return None
    following = _mailbox(pieces[i + 1][0])
    if isinstance(following, str) or not following[0]:
        return None
    name = f"{pieces[i][0].strip()}{pieces[i][1]} {following[0]}".replace('"', '\\"')
    return (f"put a name that holds a comma or semicolon in double quotes: "
            f"\"{name}\" <{following[1]}>")


def _addresses(values: Sequence[str] | str, role: str) -> tuple[str, ...]:
    """The bare addresses of :func:`parse_addresses`."""
    return tuple(addr for _, addr in parse_addresses(values, role))


def _header(mailboxes: Sequence[tuple[str, str]]) -> str:
    return ", ".join(formataddr(box) for box in mailboxes)


def _sender(sender: str) -> tuple[str, str]:
    """(display name, address) of a sender written as ``addr`` or ``Name <addr>``."""
    got = _mailbox(sender) if len(_split(sender)) == 1 else \
        "one sender address only; put a name with a comma in double quotes"
    if isinstance(got, str):
        raise MailError(f"bad sender address {sender!r} (set {ENV_VARS['sender'][0]}): {got}")
    return got


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
        for name in ("host", "user", "sender"):
            value = getattr(self, name)
            if value is not None:
                _check_line(value, ENV_VARS[name][0])
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 < self.port < 65536:
            raise MailError(f"SMTP port must be a whole number 1-65535, not {self.port!r}")
        _check_security(self.host, self.security)
        if not self.timeout > 0:
            raise MailError(f"SMTP timeout must be a positive number of seconds, "
                            f"not {self.timeout!r}")
        if not self.sender:
            raise MailError(f"no sender address: set {ENV_VARS['sender'][0]}")
        _sender(self.sender)

    @property
    def sender_address(self) -> str:
        """The bare sender address (the SMTP envelope sender)."""
        return _sender(self.sender)[1]

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             config: str | Path | None = None, *, dry_run: bool = False) -> MailSettings:
        """Settings from ``environ`` (default ``os.environ``) over the ``[mail]`` section of
        ``config`` (default: the file named by ``XL_CRM_CONFIG``, if set).

        Port defaults to 587 (starttls), 465 (ssl) or 25 (none); empty values count as unset.
        Every setting but the password must be one line without control characters.
        ``dry_run``: nothing will be sent, so a missing server is ``localhost`` (plain SMTP)
        and a missing sender ``xl-crm@localhost``; settings given are still checked.
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
        for name, value in values.items():
            if name != "password":  # never shown; sent base64-encoded, so no injection
                _check_line(value, where[name])
        if dry_run:
            if "host" not in values:
                values["host"] = "localhost"
                values.setdefault("security", "none")
            values.setdefault("sender", DRY_RUN_SENDER)

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
    """Text on one line (server replies and user data may hold line breaks); other control
    characters (NUL, ESC, ...) become spaces too."""
    return " ".join("".join(" " if _is_control(ch) else ch for ch in str(text)).split())


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

    ``report`` must be an .xlsx or .xlsm file. Each of ``to``, ``cc``, ``bcc`` is a list
    of values, each holding one or more addresses (see :func:`parse_addresses`). A mailbox
    given twice gets the message once, where it first appears in the order To, Cc, Bcc.
    Bcc addresses are kept on the message object for :func:`send`, never in a header.
    """
    t = _texts(lang)
    seen: set[str] = set()
    to, cc = parse_addresses(to, "To", seen), parse_addresses(cc, "Cc", seen)
    bcc = tuple(addr for _, addr in parse_addresses(bcc, "Bcc", seen))
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
    message["From"] = _header([_sender(settings.sender)])
    if to:
        message["To"] = _header(to)
    if cc:
        message["Cc"] = _header(cc)
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
    import smtplib
    import socket

    if isinstance(err, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out after {timeout:g} s"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({_oneline(err.strerror or err)})"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        # smtplib turns a timeout while waiting for a reply into "disconnected"
        if isinstance(err.__context__, TimeoutError):
            return f"timed out after {timeout:g} s"
        return "the server closed the connection"
    if isinstance(err, UnicodeError):  # the host name is no valid IDNA name
        return "the host name is not a valid domain name"
    if isinstance(err, OSError) and err.strerror:
        return _oneline(err.strerror)
    return _oneline(err) or type(err).__name__


def _tls_reason(err: ssl.SSLError) -> str:
    import ssl

    if isinstance(err, ssl.SSLCertVerificationError):
        reason = f"certificate verify failed: {err.verify_message}"
        return reason + f" (to trust a private CA set {ENV_VARS['cafile'][0]})"
    return _oneline(err.reason or err)


def _context(settings: MailSettings) -> ssl.SSLContext:
    import ssl

    try:
        return ssl.create_default_context(cafile=settings.cafile)
    except (OSError, ssl.SSLError) as err:
        raise MailError(f"cannot load the CA file {settings.cafile} "
                        f"(set by {ENV_VARS['cafile'][0]} or cafile in the config file): "
                        f"{_oneline(getattr(err, 'strerror', None) or err)}") from None


def send(settings: MailSettings, message: EmailMessage,
         recipients: Sequence[str] | None = None) -> SendResult:
    """Send ``message``; recipients default to its To, Cc and Bcc addresses.

    Some refused recipients give a SendResult with ``refused`` filled; every other failure
    (unreachable server, TLS, login, all recipients refused) raises MailError, whose text
    and chained exceptions never hold the password.
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
    import smtplib
    import ssl

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


def write_eml(message: EmailMessage, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``message`` as an .eml file (CRLF line ends) for a dry run; returns the path.

    An existing file is replaced only with ``overwrite`` (else OutputError: ``... exists;
    pass --overwrite to replace it``). Written to a
    temporary file in the same folder and renamed, so no partial file is left.
    """
    path = Path(path)
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    try:
        with atomic_output(path, overwrite=overwrite) as tmp:
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
        hidden = getattr(message, _BCC_ATTR)
        hidden = f" (Bcc, not in the file: {', '.join(hidden)})" if hidden else ""
        return f"dry run: message written to {eml}{hidden}", True
    settings = MailSettings.load(environ)
    message = build_message(settings, report, summary, to, cc, bcc, lang)
    result = send(settings, message)
    return describe_result(result, lang), not result.refused
