"""Hostile mail input: non-ASCII passwords, several recipients per flag, control characters
in settings, an existing .eml, malformed settings. Real SMTP servers on loopback (aiosmtpd,
and a raw socket server for misbehaving ones), the real CLI; no mocks."""

from __future__ import annotations

import base64
import hmac
import os
import socket
import ssl
import subprocess
import sys
import threading
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xl_crm.cli import main
from xl_crm.mail import MailError, MailSettings, build_message, mail_report, parse_addresses
from xl_crm.output import OutputError

from . import test_mail
from .test_mail import HOST, SUMMARY, TIMEOUT, Recorder, free_port, parse, settings, start

ca, cafile = test_mail.ca, test_mail.cafile  # the fixtures: a test CA and its PEM file

USER = "jürgen"
PASSWORDS = ["pässwörd€", "密码🔑Łódź", "x" * 3 + "\u00e9"]
SECRET = PASSWORDS[0]


def utf8_authenticator(password: str):
    """An aiosmtpd authenticator accepting USER with exactly the UTF-8 bytes of ``password``."""
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == password.encode("utf-8", "surrogateescape"))
        return AuthResult(success=ok, handled=False)
    return check


class CramRecorder(Recorder):
    """A Recorder that also speaks CRAM-MD5 (RFC 2195) against ``password``."""

    def __init__(self, password: str):
        super().__init__()
        self.password = password

    async def auth_CRAM__MD5(self, server, args):
        challenge = b"<12345.6789@127.0.0.1>"
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False)
        login, _, digest = answer.rpartition(b" ")
        expected = hmac.new(self.password.encode(), challenge, "md5").hexdigest().encode()
        return AuthResult(success=login == USER.encode() and digest == expected)


def tls_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


@pytest.fixture
def auth_server(ca) -> Iterator:
    """Start STARTTLS servers that check the UTF-8 password: ``make(password, **kw)``."""
    started = []

    def make(password: str, handler: Recorder | None = None, **kwargs):
        handler = handler or Recorder()
        kwargs.setdefault("authenticator", utf8_authenticator(password))
        controller = start(handler, tls_context=tls_context(ca), require_starttls=True,
                           **kwargs)
        started.append(controller)
        return controller, handler

    yield make
    for controller in started:
        controller.stop()


def login_settings(port: int, cafile: str, password: str, **changes) -> MailSettings:
    return settings(port, security="starttls", cafile=cafile, user=USER, password=password,
                    **changes)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_utf8_password_logs_in(auth_server, cafile, tmp_path, password, mechanism):
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    controller, handler = auth_server(password, auth_exclude_mechanism=[other])
    report = _workbook(tmp_path)
    config = login_settings(controller.port, cafile, password)
    from xl_crm.mail import send

    assert send(config, build_message(config, report, SUMMARY, ["boss@example.com"])).accepted \
        == ("boss@example.com",)
    assert len(handler.mails) == 1


def test_utf8_password_cram_md5(auth_server, cafile, tmp_path):
    handler = CramRecorder(SECRET)
    controller, _ = auth_server(SECRET, handler, auth_exclude_mechanism=["PLAIN", "LOGIN"])
    config = login_settings(controller.port, cafile, SECRET)
    from xl_crm.mail import send

    send(config, build_message(config, _workbook(tmp_path), SUMMARY, ["boss@example.com"]))
    assert len(handler.mails) == 1


def test_utf8_password_from_the_config_file(auth_server, cafile, tmp_path):
    controller, handler = auth_server(SECRET)
    config = tmp_path / "xl_crm.ini"
    config.write_bytes(f"\ufeff[mail]\nuser = {USER}\npassword = {SECRET}\n".encode())
    env = _env(controller.port, cafile, SECRET)
    del env["XL_CRM_SMTP_USER"], env["XL_CRM_SMTP_PASSWORD"]
    env["XL_CRM_CONFIG"] = str(config)
    assert mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"], environ=env)[1]
    assert len(handler.mails) == 1


def test_non_utf8_environment_password_sends_its_own_bytes(auth_server, cafile, tmp_path):
    # os.environ holds b"p\xe4ss" (a Latin-1 shell) as "p\udce4ss": the server gets the bytes
    controller, handler = auth_server("p\udce4ss")
    env = _env(controller.port, cafile, "p\udce4ss")
    line, ok = mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"], environ=env)
    assert ok and line == "sent to boss@example.com" and len(handler.mails) == 1


@pytest.mark.parametrize("password, message", [
    ("a\ud800b", "XL_CRM_SMTP_PASSWORD is not valid text"),
    ("a\x00b", "XL_CRM_SMTP_PASSWORD holds a NUL character, which SMTP login cannot send"),
])
def test_unsendable_password_is_named_not_shown(auth_server, cafile, tmp_path, password,
                                                message):
    controller, handler = auth_server("whatever")
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"],
                    environ=_env(controller.port, cafile, password))
    assert str(err.value) == message
    assert handler.mails == []


# ---- the password never appears in any output ------------------------------------------

def _workbook(folder: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Customer", "Value"])
    path = folder / "report.xlsx"
    book.save(path)
    return path


def _env(port: int, cafile: str | None, password: str, **extra: str) -> dict[str, str]:
    env = {"XL_CRM_SMTP_HOST": HOST, "XL_CRM_SMTP_PORT": str(port),
           "XL_CRM_SMTP_SECURITY": "starttls", "XL_CRM_SMTP_USER": USER,
           "XL_CRM_SMTP_PASSWORD": password, "XL_CRM_MAIL_FROM": "reports@example.com",
           "XL_CRM_SMTP_TIMEOUT": "3"}
    if cafile:
        env["XL_CRM_SMTP_CAFILE"] = cafile
    env.update(extra)
    return env


def _forms(password: str) -> list[bytes]:
    """Every form of the password worth looking for: itself, each non-ASCII character, in
    UTF-8 and escaped, base64 of it and of the AUTH PLAIN token, and Python's
    encoding-error vocabulary (which names a character and its position)."""
    raw = password.encode()
    forms = [raw, base64.b64encode(raw), base64.b64encode(b"\0" + USER.encode() + b"\0" + raw),
             password.encode("unicode_escape"), ascii(password).encode()]
    for ch in password:
        if ord(ch) > 127:
            forms += [ch.encode(), ascii(ch)[1:-1].encode()]
    return forms + [b"in position", b"codec", b"ordinal"]


def assert_no_secret(password: str, where: str, data: bytes | str) -> None:
    data = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    for form in _forms(password):
        assert form not in data, f"{form!r} in {where}"


def _echoing_server(mode: str) -> tuple[int, threading.Thread]:
    """A raw SMTP server: offers AUTH PLAIN LOGIN, then either echoes the AUTH line in its
    refusal (``echo``) or drops the connection when AUTH comes (``drop``)."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()
    listener.settimeout(TIMEOUT)

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn, conn.makefile("rwb") as io:
                io.write(b"220 test ESMTP\r\n")
                io.flush()
                for line in io:
                    verb = line.split(b" ")[0].strip().upper()
                    if verb == b"EHLO":
                        io.write(b"250-test\r\n250 AUTH PLAIN LOGIN\r\n")
                    elif verb == b"AUTH" and mode == "drop":
                        return
                    elif verb == b"AUTH":
                        token = base64.b64decode(line.split()[-1])  # \0 user \0 password
                        io.write(b"535 bad credentials: " + line.strip() + b" = "
                                 + token + b"; password " + token.split(b"\0")[-1] + b"\r\n")
                    elif verb == b"QUIT":
                        io.write(b"221 bye\r\n")
                        io.flush()
                        return
                    else:
                        io.write(b"250 ok\r\n")
                    io.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory) -> Path:
    """A real report of the shipped sample, written by the CLI."""
    folder = tmp_path_factory.mktemp("report")
    sales = folder / "sales.csv"
    sales.write_text("Customer,Date,Amount\n" + "".join(
        f"C{i % 7},2026-{1 + i % 10:02d}-{1 + i % 27:02d},{10 + i * 3.5}\n" for i in range(40)),
        encoding="utf-8")
    out = folder / "customer-value-2026-10.xlsx"
    assert main(["report", str(sales), "-o", str(out), "--as-of", "2026-10-31"]) == 0
    return out


SCENARIOS = ["success", "wrong password", "refused auth", "no auth offered", "server gone",
             "tls failure", "echoing server", "dropped during login", "dry run"]


@pytest.mark.parametrize("password", PASSWORDS[:2])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_password_never_in_any_output(scenario, password, auth_server, ca, cafile,
                                      cli_report, tmp_path, monkeypatch, capsys):
    """Every output of a send - stdout, stderr, the exception chain with its traceback text,
    the .eml, the report - holds no form of the password, succeeding or failing."""
    report = tmp_path / cli_report.name
    report.write_bytes(cli_report.read_bytes())
    trusted, extra, expect = cafile, {}, 1
    if scenario == "success":
        port, expect = auth_server(password)[0].port, 0
    elif scenario == "wrong password":
        port = auth_server(password + "x")[0].port
    elif scenario == "refused auth":
        port = auth_server(password, authenticator=None)[0].port  # aiosmtpd: every login fails
    elif scenario == "no auth offered":
        port = auth_server(password, auth_exclude_mechanism=["PLAIN", "LOGIN"])[0].port
    elif scenario == "server gone":
        port = free_port()
    elif scenario == "tls failure":
        port, trusted = auth_server(password)[0].port, None
    elif scenario in ("echoing server", "dropped during login"):
        port, _ = _echoing_server("echo" if scenario == "echoing server" else "drop")
        extra = {"XL_CRM_SMTP_SECURITY": "none"}
    else:  # dry run: no server at all
        port, expect = free_port(), 0
    env = _env(port, trusted, password, **extra)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("XL_CRM_CONFIG", raising=False)

    args = ["email", str(report), "--to", "boss@example.com"]
    if scenario == "dry run":
        args.append("--dry-run")
    assert main(args) == expect
    captured = capsys.readouterr()
    assert_no_secret(password, "stdout", captured.out)
    assert_no_secret(password, "stderr", captured.err)
    assert "unexpected error" not in captured.err
    if expect:
        assert captured.err.count("\n") == 1, captured.err
    else:
        assert captured.err == ""

    if scenario == "dry run":
        eml = report.with_suffix(".eml")
        assert_no_secret(password, "the .eml", eml.read_bytes())
        eml.unlink()
        assert mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ=env)[1]
        assert_no_secret(password, "the .eml", eml.read_bytes())
    else:  # the library call: the whole exception chain, as a traceback would print it
        try:
            mail_report(report, SUMMARY, ["boss@example.com"], environ=env)
        except MailError as err:
            assert expect == 1
            text = "".join(traceback.format_exception(err))
            assert_no_secret(password, "the exception chain", text)
            assert_no_secret(password, "the exception args", repr(err.args))
        else:
            assert expect == 0
    with zipfile.ZipFile(report) as book:
        for member in book.namelist():
            assert_no_secret(password, f"the report's {member}", book.read(member))


def test_failing_sends_say_what_failed(auth_server, cafile, cli_report, tmp_path):
    """The messages of the failing scenarios above, exactly (none names the password)."""
    report = tmp_path / cli_report.name
    report.write_bytes(cli_report.read_bytes())

    def failure(port: int, password: str = SECRET, trusted: str | None = cafile, **extra):
        with pytest.raises(MailError) as err:
            mail_report(report, SUMMARY, ["boss@example.com"],
                        environ=_env(port, trusted, password, **extra))
        return str(err.value)

    port = auth_server(SECRET + "x")[0].port
    assert failure(port) == (f"the SMTP server refused the login for user '{USER}' "
                             "(535 5.7.8 Authentication credentials invalid)")
    port = auth_server(SECRET, auth_exclude_mechanism=["PLAIN", "LOGIN"])[0].port
    assert failure(port) == (f"the SMTP server {HOST}:{port} does not offer login (AUTH); "
                             "unset XL_CRM_SMTP_USER or use starttls/ssl")
    port = auth_server(SECRET)[0].port
    assert failure(port, trusted=None).startswith(
        f"TLS with {HOST}:{port} failed: certificate verify failed: ")
    port, thread = _echoing_server("echo")
    assert failure(port, XL_CRM_SMTP_SECURITY="none") == (
        f"the SMTP server refused the login for user '{USER}' "
        f"(535 bad credentials: AUTH PLAIN *** = {USER} ***; password ***)")
    thread.join(TIMEOUT)
    port, thread = _echoing_server("drop")
    assert failure(port, XL_CRM_SMTP_SECURITY="none") == (
        f"SMTP with {HOST}:{port} failed during login: the server closed the connection")
    thread.join(TIMEOUT)


# ---- recipients ------------------------------------------------------------------------

@pytest.fixture
def plain(tmp_path) -> Iterator[tuple[int, Recorder]]:
    handler = Recorder()
    controller = start(handler)
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def _plain_env(port: int) -> dict[str, str]:
    return {"XL_CRM_SMTP_HOST": HOST, "XL_CRM_SMTP_PORT": str(port),
            "XL_CRM_SMTP_SECURITY": "none", "XL_CRM_MAIL_FROM": "Reports <reports@example.com>"}


def test_repeated_values_and_several_addresses_per_value(plain, tmp_path):
    port, handler = plain
    line, ok = mail_report(
        _workbook(tmp_path), SUMMARY,
        to=["a@example.com", "b@example.com, c@example.com; d@example.com"],
        cc=['"Smith, John" <john@example.com>; Li Wei <li@example.com>', "e@example.com"],
        bcc=["f@example.com,g@example.com"], environ=_plain_env(port))
    assert ok
    assert line == ("sent to a@example.com, b@example.com, c@example.com, d@example.com, "
                    "john@example.com, li@example.com, e@example.com, f@example.com, "
                    "g@example.com")
    (sender, rcpt_tos, raw), = handler.mails
    assert sender == "reports@example.com"
    assert rcpt_tos == ["a@example.com", "b@example.com", "c@example.com", "d@example.com",
                        "john@example.com", "li@example.com", "e@example.com",
                        "f@example.com", "g@example.com"]
    got = parse(raw)
    assert got["To"] == "a@example.com, b@example.com, c@example.com, d@example.com"
    assert got["Cc"] == '"Smith, John" <john@example.com>, Li Wei <li@example.com>, e@example.com'
    assert [a.display_name for a in got["Cc"].addresses] == ["Smith, John", "Li Wei", ""]
    assert got["From"] == "Reports <reports@example.com>"
    assert b"f@example.com" not in raw and b"g@example.com" not in raw


def test_duplicates_are_sent_once_where_they_first_appear(plain, tmp_path):
    """Order To, Cc, Bcc; the domain compares case-insensitively, the local part exactly."""
    port, handler = plain
    line, _ = mail_report(_workbook(tmp_path), SUMMARY,
                          to=["a@example.com", "a@EXAMPLE.com", "A@example.com"],
                          cc=["a@example.com, c@example.com", "c@example.com"],
                          bcc=["c@example.com; a@example.com", "d@example.com"],
                          environ=_plain_env(port))
    assert line == "sent to a@example.com, A@example.com, c@example.com, d@example.com"
    (_, rcpt_tos, raw), = handler.mails
    assert rcpt_tos == ["a@example.com", "A@example.com", "c@example.com", "d@example.com"]
    got = parse(raw)
    assert (got["To"], got["Cc"]) == ("a@example.com, A@example.com", "c@example.com")


def test_international_addresses(plain, tmp_path):
    """A non-ASCII domain travels as IDNA; a non-ASCII name is encoded (RFC 2047); a
    non-ASCII local part (SMTPUTF8) is refused in one line instead of a UnicodeEncodeError."""
    port, handler = plain
    env = {**_plain_env(port), "XL_CRM_MAIL_FROM": "Jürgen Müller <reports@bücher.example>"}
    line, _ = mail_report(_workbook(tmp_path), SUMMARY, ["王芳 <boss@例子.中国>"], environ=env)
    assert line == "sent to boss@xn--fsqu00a.xn--fiqs8s"
    (sender, rcpt_tos, raw), = handler.mails
    assert (sender, rcpt_tos) == ("reports@xn--bcher-kva.example", ["boss@xn--fsqu00a.xn--fiqs8s"])
    raw.decode("ascii")
    got = parse(raw)
    assert got["To"] == "王芳 <boss@xn--fsqu00a.xn--fiqs8s>"
    assert got["From"] == "Jürgen Müller <reports@xn--bcher-kva.example>"
    for role, flag in (("To", "to"), ("Bcc", "bcc")):
        with pytest.raises(MailError) as err:
            mail_report(_workbook(tmp_path), SUMMARY, environ=env, **{flag: ["büro@example.com"]})
        assert str(err.value) == (f"bad {role} address 'büro@example.com': only ASCII characters "
                                  "may come before the @ (international mailbox names are not "
                                  "supported)")
    assert len(handler.mails) == 1


@pytest.mark.parametrize("role, flag", [("To", "to"), ("Cc", "cc"), ("Bcc", "bcc")])
@pytest.mark.parametrize("written, sep", [("Smith, John <john@example.com>", ","),
                                          ("Smith; John <john@example.com>", ";"),
                                          ("a@x.com, Smith, John <john@example.com>", ",")])
def test_unquoted_name_with_a_comma_asks_for_quotes(tmp_path, role, flag, written, sep):
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, dry_run=True, environ={},
                    **{flag: ["boss@example.com", written]})
    bad = written.removeprefix("a@x.com, ")
    assert str(err.value) == (
        f"bad {role} address {bad!r}: put a name that holds a comma or semicolon in double "
        f'quotes: "Smith{sep} John" <john@example.com>')
    assert not (tmp_path / "report.eml").exists()


@pytest.mark.parametrize("value, problem", [
    ("", "'': it is empty"),
    (" , ;", "' , ;': it is empty"),
    ("a@example.com\r\nBcc: evil@example.com", ("'a@example.com\\r\\nBcc: evil@example.com': "
     "it must not contain line breaks or other control characters")),
    ("a@exa\rmple.com", ("'a@exa\\rmple.com': it must not contain line breaks or other "
     "control characters")),
    ('"Evil\r\nBcc: x@y.z" <a@example.com>', ("'\"Evil\\r\\nBcc: x@y.z\" <a@example.com>': "
     "it must not contain line breaks or other control characters")),
    ("a@example.com\x00", ("'a@example.com\\x00': it must not contain line breaks or other "
     "control characters")),
    ('"Smith <a@example.com>', ("'\"Smith <a@example.com>': the name before <address> has "
     "unbalanced quotes or brackets")),
    ("Smith <a@example.com", "'Smith <a@example.com': it must not contain spaces"),
    ("<a@example.com", ("'<a@example.com': it must not contain commas, "
     "semicolons, brackets or quotes (one address each)")),
    ("Smith, John", "'Smith': it must contain exactly one @"),
    ("a@example.com b@example.com", ("'a@example.com b@example.com': separate several "
     "addresses with a comma or semicolon")),
    ("John Smith john@example.com", ("'John Smith john@example.com': write a name with the "
     "address as John Smith <john@example.com>")),
])
def test_bad_recipient_values_are_named(value, problem):
    with pytest.raises(MailError) as err:
        parse_addresses(["ok@example.com", value], "Cc")
    assert str(err.value) == f"bad Cc address {problem}"


_local = st.text("abcxyzABC019._-+", min_size=1, max_size=8).filter(
    lambda s: not s.startswith("."))
_domain = st.sampled_from(["example.com", "Example.COM", "mail.example.org", "例子.中国"])
_name = st.one_of(st.just(""), st.text("ab Zü张, ;\"\\<>@()", min_size=1, max_size=10))


def _write(name: str, addr: str, style: int) -> str:
    if not name and style == 0:
        return addr
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{quoted} <{addr}>" if name or style == 1 else f"<{addr}>"


@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_name, _local, _domain, st.integers(0, 2)), min_size=1, max_size=6),
       st.lists(st.sampled_from([",", ";", " ,", "; ", ",\t"]), min_size=6, max_size=6),
       st.integers(1, 3))
def test_generated_address_lists_parse_exactly(boxes, seps, per_value):
    """Random names (commas, quotes, backslashes, Chinese), separators and grouping: every
    address comes back once, in order, with its name."""
    written = [_write(name, f"{local}@{domain}", style) for name, local, domain, style in boxes]
    values = []
    for first in range(0, len(written), per_value):
        group = written[first:first + per_value]
        text = group[0]
        for sep, item in zip(seps, group[1:]):
            text += f"{sep} {item}"
        values.append(text)
    expected, seen = [], set()
    for name, local, domain, _ in boxes:
        domain = domain.encode("idna").decode() if not domain.isascii() else domain
        key = f"{local}@{domain.lower()}"
        if key not in seen:
            seen.add(key)
            expected.append((" ".join(name.split()), f"{local}@{domain}"))
    assert list(parse_addresses(values, "To")) == expected


# ---- control characters in settings ----------------------------------------------------

CONTROL = ["\r\n", "\n", "\r", "\x00", "\x1b", "\t", "\x7f", "\x85", "\u2028"]


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("setting, var, key, value", [
    ("sender", "XL_CRM_MAIL_FROM", "from", "reports@example.com{}Bcc: evil@example.com"),
    ("host", "XL_CRM_SMTP_HOST", "host", "smtp.example.com{}x"),
    ("user", "XL_CRM_SMTP_USER", "user", "reports{}x"),
])
def test_control_characters_in_settings_are_refused(tmp_path, char, setting, var, key, value):
    bad = value.format(char)
    base = {"XL_CRM_SMTP_HOST": "smtp.example.com", "XL_CRM_MAIL_FROM": "reports@example.com",
            "XL_CRM_SMTP_PASSWORD": SECRET, "XL_CRM_SMTP_USER": "reports"}
    with pytest.raises(MailError) as err:
        MailSettings.load({**base, var: bad})
    assert str(err.value) == (f"{var} must be one line without control characters "
                              f"(line breaks, tabs), not {bad!r}")
    if char in "\r\n":  # an INI file value cannot hold a line break
        return
    config = tmp_path / "mail.ini"
    config.write_text(f"[mail]\n{key} = {bad}\n", encoding="utf-8")
    env = {k: v for k, v in base.items() if k != var}
    with pytest.raises(MailError) as err:
        MailSettings.load(env, config=config)
    assert str(err.value) == (f"{key} in the [mail] section of {config} must be one line "
                              f"without control characters (line breaks, tabs), not {bad!r}")


def test_control_characters_refused_in_a_dry_run_and_hand_made_settings(tmp_path):
    bad = "reports@example.com\r\nBcc: evil@example.com"
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"], dry_run=True,
                    environ={"XL_CRM_MAIL_FROM": bad})
    assert str(err.value) == ("XL_CRM_MAIL_FROM must be one line without control characters "
                              f"(line breaks, tabs), not {bad!r}")
    assert not (tmp_path / "report.eml").exists()
    with pytest.raises(MailError, match="^XL_CRM_MAIL_FROM must be one line"):
        settings(25, sender=bad)
    with pytest.raises(MailError, match="^XL_CRM_SMTP_HOST must be one line"):
        settings(25, host="127.0.0.1\n")


def test_injection_never_reaches_the_server(plain, tmp_path):
    port, handler = plain
    for var, bad in [("XL_CRM_MAIL_FROM", "r@example.com\r\nBcc: evil@example.com"),
                     ("XL_CRM_SMTP_HOST", f"{HOST}\r\nRCPT TO:<evil@example.com>")]:
        with pytest.raises(MailError, match=f"^{var} must be one line"):
            mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"],
                        environ={**_plain_env(port), var: bad})
    assert handler.mails == []


# ---- the .eml of a dry run -------------------------------------------------------------

def test_dry_run_refuses_an_existing_eml_unless_overwrite(tmp_path):
    report = tmp_path / "customer-value-2026-10.xlsx"
    report.write_bytes(_workbook(tmp_path).read_bytes())
    eml = tmp_path / "customer-value-2026-10.eml"
    eml.write_bytes(b"mine")
    with pytest.raises(OutputError) as err:
        mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={})
    assert str(err.value) == f"{eml} exists; pass --overwrite to replace it"
    assert eml.read_bytes() == b"mine"
    line, ok = mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={},
                           overwrite=True)
    assert ok and line == f"dry run: message written to {eml}"
    assert parse(eml.read_bytes())["To"] == "boss@example.com"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_eml_mode_follows_the_umask_and_an_existing_files_mode(tmp_path):
    report = _workbook(tmp_path)
    eml = report.with_suffix(".eml")
    old = os.umask(0o022)
    try:
        mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={})
        assert _mode(eml) == 0o644
        eml.chmod(0o640)
        mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={},
                    overwrite=True)
        assert _mode(eml) == 0o640
    finally:
        os.umask(old)


# ---- other malformed mail input: one line naming the setting ---------------------------

ENV = {"XL_CRM_SMTP_HOST": "smtp.example.com", "XL_CRM_MAIL_FROM": "reports@example.com"}


@pytest.mark.parametrize("var, value, message", [
    ("XL_CRM_SMTP_PORT", "smtp", "XL_CRM_SMTP_PORT must be a port number 1-65535, not 'smtp'"),
    ("XL_CRM_SMTP_PORT", "0", "XL_CRM_SMTP_PORT must be a port number 1-65535, not '0'"),
    ("XL_CRM_SMTP_PORT", "70000",
     "XL_CRM_SMTP_PORT must be a port number 1-65535, not '70000'"),
    ("XL_CRM_SMTP_PORT", "25.5", "XL_CRM_SMTP_PORT must be a port number 1-65535, not '25.5'"),
    ("XL_CRM_SMTP_SECURITY", "tls",
     "XL_CRM_SMTP_SECURITY must be starttls, ssl or none, not 'tls'"),
    ("XL_CRM_SMTP_TIMEOUT", "soon",
     "XL_CRM_SMTP_TIMEOUT must be a positive number of seconds, not 'soon'"),
    ("XL_CRM_SMTP_TIMEOUT", "-1",
     "XL_CRM_SMTP_TIMEOUT must be a positive number of seconds, not '-1'"),
    ("XL_CRM_SMTP_TIMEOUT", "nan",
     "XL_CRM_SMTP_TIMEOUT must be a positive number of seconds, not 'nan'"),
    ("XL_CRM_SMTP_TIMEOUT", "inf",
     "XL_CRM_SMTP_TIMEOUT must be a positive number of seconds, not 'inf'"),
])
def test_malformed_settings_are_named(var, value, message):
    with pytest.raises(MailError) as err:
        MailSettings.load({**ENV, var: value})
    assert str(err.value) == message


def test_malformed_settings_are_named_in_a_dry_run_too(tmp_path):
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"], dry_run=True,
                    environ={"XL_CRM_SMTP_PORT": "smtp"})
    assert str(err.value) == "XL_CRM_SMTP_PORT must be a port number 1-65535, not 'smtp'"


def test_unreadable_config_files_are_named(tmp_path):
    folder = tmp_path / "mail.ini"
    folder.mkdir()
    with pytest.raises(MailError) as err:
        MailSettings.load(ENV, config=folder)
    assert str(err.value) == f"cannot read mail config file {folder}: Is a directory"
    latin = tmp_path / "latin.ini"
    latin.write_bytes(f"[mail]\npassword = {SECRET}\n".encode("cp1252"))
    with pytest.raises(MailError) as err:
        MailSettings.load(ENV, config=latin)
    assert str(err.value) == f"mail config file {latin} is not UTF-8 text"
    missing = tmp_path / "missing.ini"
    with pytest.raises(MailError) as err:
        MailSettings.load({**ENV, "XL_CRM_CONFIG": str(missing)})
    assert str(err.value) == f"mail config file not found: {missing}"


def test_missing_cafile_is_named(tmp_path):
    missing = tmp_path / "company-ca.pem"
    config = MailSettings.load({**ENV, "XL_CRM_SMTP_CAFILE": str(missing)})
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"],
                    environ={**ENV, "XL_CRM_SMTP_CAFILE": str(missing)})
    assert config.cafile == str(missing)
    assert str(err.value) == (f"cannot load the CA file {missing} (set by XL_CRM_SMTP_CAFILE "
                              "or cafile in the config file): No such file or directory")


def test_vanished_attachment_is_named(tmp_path):
    report = _workbook(tmp_path)
    report.unlink()
    with pytest.raises(MailError) as err:
        mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={})
    assert str(err.value) == f"cannot read the report {report}: No such file or directory"


def test_host_that_is_no_domain_name_is_one_line(tmp_path):
    with pytest.raises(MailError) as err:
        mail_report(_workbook(tmp_path), SUMMARY, ["boss@example.com"],
                    environ={**ENV, "XL_CRM_SMTP_HOST": "smtp..example.com",
                             "XL_CRM_SMTP_SECURITY": "ssl"})
    assert str(err.value) == ("cannot reach SMTP server smtp..example.com:465: "
                              "the host name is not a valid domain name")


def test_mail_module_works_without_ssl_and_smtplib(tmp_path):
    """xlwings Lite (Pyodide) has no ssl unless loaded: the mailer imports it only to send,
    so building a message and a dry run work without ssl and smtplib."""
    code = f"""
import sys
sys.modules["ssl"] = sys.modules["_ssl"] = sys.modules["smtplib"] = None
from pathlib import Path
from xl_crm.keyfigures import ReportSummary
from xl_crm.mail import mail_report
SUMMARY = ReportSummary("2026-10", "2026-10-31", "s.csv", 1, 1.0, 1.0, "profit", ())
report = Path({str(tmp_path / 'r.xlsx')!r})
report.write_bytes(b"PK")
print(mail_report(report, SUMMARY, ["boss@example.com"], dry_run=True, environ={{}})[0])
try:
    mail_report(report, SUMMARY, ["boss@example.com"],
                environ={{"XL_CRM_SMTP_HOST": "127.0.0.1", "XL_CRM_SMTP_SECURITY": "none",
                          "XL_CRM_MAIL_FROM": "r@example.com"}})
except ImportError:
    print("sending needs smtplib")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"dry run: message written to {tmp_path / 'r.eml'}\n"
                           "sending needs smtplib\n")
