"""Mail settings: the environment (``XL_CRM_SMTP_*``, ``XL_CRM_MAIL_FROM``) and the
``[mail]`` section of a config file, checked once (:class:`MailSettings`); addresses parsed
and refused in one line (:func:`parse_addresses`); plain SMTP only to a loopback host.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr
from pathlib import Path

from ..core.errors import XlCrmError, is_control, show_path, user_path

SECURITIES = ("starttls", "ssl", "none")


DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


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


def check_security(host: str, security: str) -> None:
    if security not in SECURITIES:
        raise MailError(f"SMTP security must be starttls, ssl or none, not {security!r} "
                        f"(set {ENV_VARS['security'][0]})")
    if security == "none" and not is_loopback(host):
        raise MailError(f"SMTP security 'none' sends mail unencrypted and is only allowed for "
                        f"a loopback host (localhost, 127.x.x.x, ::1), not {host!r}; "
                        f"set {ENV_VARS['security'][0]} to starttls or ssl")


def check_line(value: str, setting: str) -> None:
    """MailError naming ``setting`` when ``value`` holds a line break or control character."""
    if any(is_control(ch) for ch in value):
        raise MailError(f"{setting} must be one line without control characters "
                        f"(line breaks, tabs), not {value!r}")


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a plain ``local@domain`` address, or None when it is."""
    if any(is_control(ch) for ch in address):
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
    if any(is_control(ch) for ch in name):
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


def addresses(values: Sequence[str] | str, role: str) -> tuple[str, ...]:
    """The bare addresses of :func:`parse_addresses`."""
    return tuple(addr for _, addr in parse_addresses(values, role))


def address_header(mailboxes: Sequence[tuple[str, str]]) -> str:
    return ", ".join(formataddr(box) for box in mailboxes)


def sender_mailbox(sender: str) -> tuple[str, str]:
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
                check_line(value, ENV_VARS[name][0])
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 < self.port < 65536:
            raise MailError(f"SMTP port must be a whole number 1-65535, not {self.port!r}")
        check_security(self.host, self.security)
        if not self.timeout > 0:
            raise MailError(f"SMTP timeout must be a positive number of seconds, "
                            f"not {self.timeout!r}")
        if not self.sender:
            raise MailError(f"no sender address: set {ENV_VARS['sender'][0]}")
        sender_mailbox(self.sender)

    @property
    def sender_address(self) -> str:
        """The bare sender address (the SMTP envelope sender)."""
        return sender_mailbox(self.sender)[1]

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
        values = read_config(user_path(config)) if config is not None else {}
        where = {name: f"{key} in the [{CONFIG_SECTION}] section of {config}"
                 for name, (_, key) in ENV_VARS.items() if name in values}
        for name, (var, _) in ENV_VARS.items():
            value = env.get(var)
            if value is not None and value.strip():
                values[name] = value if name == "password" else value.strip()
                where[name] = var
        for name, value in values.items():
            if name != "password":  # never shown; sent base64-encoded, so no injection
                check_line(value, where[name])
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


def read_config(path: Path) -> dict[str, str]:
    """The ``[mail]`` section of an INI file (UTF-8, BOM allowed) as setting -> value."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        raise MailError(f"mail config file not found: {show_path(path)}") from None
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
