"""Mailing the report: a real SMTP server (aiosmtpd) on loopback, no mocks of smtplib."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from xl_crm.core.errors import XlCrmError
from xl_crm.keyfigures import ReportSummary, TierRow
from xl_crm.mail import (
    MailError,
    MailSettings,
    SendResult,
    build_message,
    describe_result,
    send,
    write_eml,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
HOST = "127.0.0.1"
TIMEOUT = 5.0
USER, PASSWORD = "reports", "s3cret-Pa55"
TO, CC, BCC = ("boss@example.com", "cfo@example.com"), ("sales@example.com",), ("me@example.com",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Recorder:
    """aiosmtpd handler keeping each envelope; refuses the addresses in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()):
        self.refuse = refuse
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos),
                           envelope.original_content))
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def start(handler: Recorder, **kwargs) -> Controller:
    controller = Controller(handler, hostname=HOST, port=free_port(), ready_timeout=TIMEOUT,
                            **kwargs)
    controller.start()
    return controller


@pytest.fixture
def plain_server() -> Iterator[tuple[Controller, Recorder]]:
    handler = Recorder(refuse=("nobody@example.com",))
    controller = start(handler)
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cafile(ca, tmp_path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_server(ca) -> Iterator[tuple[Controller, Recorder]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    handler = Recorder()
    controller = start(handler, tls_context=context, require_starttls=True,
                       authenticator=authenticator)
    try:
        yield controller, handler
    finally:
        controller.stop()


def settings(port: int, **changes) -> MailSettings:
    values = {"host": HOST, "port": port, "security": "none", "user": None, "password": None,
              "sender": "Reports <reports@example.com>", "timeout": TIMEOUT}
    values.update(changes)
    return MailSettings(**values)


@pytest.fixture
def report(tmp_path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "ABC"
    sheet.append(["Customer", "Value", "Tier"])
    sheet.append(["Acme", 1200.5, "A"])
    book.save(tmp_path / "report.xlsx")
    return tmp_path / "report.xlsx"


SUMMARY = ReportSummary(
    period="2026-10", as_of="2026-10-31", source="sales <2026>.xlsx [Sales]", customers=1234,
    revenue=1234567.891, value=345678.9, value_basis="profit",
    tiers=(TierRow("A", "Key & loyal", 150, 0.1215, 276543.12, 0.8),
           TierRow("B", "Growth", 300, 0.2431, 51851.84, 0.15),
           TierRow("C", "Occasional", 784, 0.6354, 17283.94, 0.05)),
)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(message) -> tuple[str, str, email.message.EmailMessage]:
    """The text body, the HTML body and the attachment part of a parsed message."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    (attachment,) = list(message.iter_attachments())
    return text, html, attachment


def test_plain_send_delivers_bodies_attachment_and_bcc(plain_server, report):
    controller, handler = plain_server
    message = build_message(settings(controller.port), report, SUMMARY, TO, CC, BCC)
    result = send(settings(controller.port), message)

    assert result == SendResult(accepted=TO + CC + BCC, refused={})
    (mail_from, rcpt_tos, raw), = handler.mails
    assert mail_from == "reports@example.com"
    assert rcpt_tos == [*TO, *CC, *BCC]
    got = parse(raw)
    assert "Bcc" not in got and b"me@example.com" not in raw
    assert got["To"] == ", ".join(TO) and got["Cc"] == CC[0]
    assert got["Subject"] == "Customer value report — 2026-10"
    assert got["Message-ID"].endswith("@example.com>") and got["Date"]
    assert got.get_content_type() == "multipart/mixed"
    text, html, attachment = parts(got)
    for body in (text, html):
        for figure in ("1,234", "1,234,567.89", "345,678.90", "profit", "2026-10-31",
                       "12.2%", "80.0%", "276,543.12", "Growth", "Occasional"):
            assert figure in body, figure
    assert "sales <2026>.xlsx [Sales]" in text and "Key & loyal" in text
    assert "sales &lt;2026&gt;.xlsx [Sales]" in html and "Key &amp; loyal" in html
    assert "<2026>" not in html and "http" not in html.replace("http-equiv", "")
    assert attachment.get_filename() == "report.xlsx"
    assert attachment.get_content_type() == XLSX
    assert attachment.get_content() == report.read_bytes()


def test_the_decision_part_stands_on_its_own(plain_server, report):
    import dataclasses
    import re

    from xl_crm.keyfigures import FigureRow

    summary = dataclasses.replace(
        SUMMARY, window="24 months of data, 2024-11-01 to 2026-10-31",
        comparison="Change since 2026-09-30", headline="14 VIPs at risk, value −4.3% since 2026-09-30",
        figures=(FigureRow("value_at_risk", "Value at risk", 473499.82, 540665.92, -67166.1,
                           -0.1242, True),
                 FigureRow("vips_at_risk", "VIPs at risk", 14, None, None, None, False)),
        action_count=578, action_header=("Priority", "Name", "Action"),
        actions=((1, "<Acme> & Co", "Call this week"), (2, "Beta", "Reactivate")),
        warnings=("Retention assumed (50%)",))
    controller, handler = plain_server
    send(settings(controller.port), build_message(settings(controller.port), report,
                                                  summary, TO))
    (_, _, raw), = handler.mails
    got = parse(raw)
    assert got["Subject"] == ("Customer value report — 2026-10: 14 VIPs at risk, value −4.3% "
                              "since 2026-09-30")
    text, html, _ = parts(got)
    lines = text.splitlines()
    assert "24 months of data, 2024-11-01 to 2026-10-31 · Change since 2026-09-30" in lines
    assert "! Retention assumed (50%)" in lines
    assert "  Value at risk  473,500  −67,166    −12.4%" in lines
    assert "  VIPs at risk        14        –         –" in lines  # no previous figure
    assert "Whom to contact: the first 2 of 578 on the action list" in lines
    assert "         1  <Acme> & Co  Call this week" in lines
    assert "&lt;Acme&gt; &amp; Co" in html and "<Acme>" not in html
    # Outlook does not carry the body's font into tables: every cell names it
    cells = re.findall(r"<t[dh] style=\"([^\"]*)\"", html)
    assert cells and all("font-family:Arial" in c for c in cells)


def test_chinese_message_and_non_ascii_file_name(plain_server, report):
    controller, handler = plain_server
    workbook = report.with_name("客户价值报告 2026-10 月度汇总.xlsm")
    workbook.write_bytes(report.read_bytes())
    message = build_message(settings(controller.port), workbook, SUMMARY, TO, lang="zh")
    send(settings(controller.port), message)

    (_, _, raw), = handler.mails
    raw.decode("ascii")  # 7-bit clean on the wire
    got = parse(raw)
    assert got["Subject"] == "客户价值报告 — 2026-10"
    text, html, attachment = parts(got)
    assert "font-family:'Microsoft YaHei'" in html  # a CJK font first, on every cell
    for body in (text, html):
        assert "客户数" in body and "利润" in body and "客户占比" in body and "1,234" in body
    assert attachment.get_filename() == workbook.name
    assert attachment.get_content_type() == XLSM.lower()  # the parser lower-cases MIME types
    assert f"Content-Type: {XLSM}".encode() in raw
    assert attachment.get_content() == workbook.read_bytes()
    assert b"filename*" in raw  # RFC 2231


def test_starttls_verifies_the_certificate(tls_server, report, cafile):
    controller, handler = tls_server
    trusted = settings(controller.port, security="starttls", cafile=cafile)
    message = build_message(trusted, report, SUMMARY, TO)
    assert send(trusted, message).accepted == TO
    assert len(handler.mails) == 1

    with pytest.raises(MailError, match=rf"^TLS with {HOST}:{controller.port} failed: "
                                        "certificate verify failed") as err:
        send(settings(controller.port, security="starttls"), message)
    assert "\n" not in str(err.value)
    assert len(handler.mails) == 1


def test_login_over_starttls(tls_server, report, cafile):
    controller, handler = tls_server
    good = settings(controller.port, security="starttls", cafile=cafile, user=USER,
                    password=PASSWORD)
    assert PASSWORD not in repr(good) and PASSWORD not in str(good)
    message = build_message(good, report, SUMMARY, TO)
    assert send(good, message).accepted == TO

    wrong = "wr0ng-Pa55"
    bad = settings(controller.port, security="starttls", cafile=cafile, user=USER,
                   password=wrong)
    with pytest.raises(MailError, match=rf"^the SMTP server refused the login for user "
                                        rf"'{USER}' \(535 ") as err:
        send(bad, message)
    assert wrong not in str(err.value) and wrong not in repr(err.value.args)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert len(handler.mails) == 1


def test_implicit_tls(ca, cafile, report):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    handler = Recorder()
    controller = start(handler, ssl_context=context)
    try:
        config = settings(controller.port, security="ssl", cafile=cafile)
        assert send(config, build_message(config, report, SUMMARY, TO)).accepted == TO
        assert len(handler.mails) == 1
    finally:
        controller.stop()


def test_silent_server_times_out():
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        config = settings(port, timeout=0.5)
        with pytest.raises(MailError, match=rf"^cannot reach SMTP server {HOST}:{port}: "
                                            r"timed out after 0\.5 s$"):
            send(config, _message_for(config))


def test_server_down():
    port = free_port()
    with pytest.raises(MailError, match=rf"^cannot reach SMTP server {HOST}:{port}: "):
        send(settings(port), _message_for(settings(port)))


def _message_for(config: MailSettings):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config.sender, TO[0], "x"
    message.set_content("x")
    return message


def test_one_refused_recipient_is_reported_not_raised(plain_server, report):
    controller, handler = plain_server
    config = settings(controller.port)
    message = build_message(config, report, SUMMARY, [TO[0], "nobody@example.com"], cc=CC)
    result = send(config, message)
    assert result.accepted == (TO[0], CC[0])
    assert result.refused == {"nobody@example.com": "550 no such user"}
    line = describe_result(result)
    assert line == ("sent to boss@example.com, sales@example.com; "
                    "refused: nobody@example.com (550 no such user)")
    assert "\n" not in describe_result(result, "zh") and "被拒绝" in describe_result(result, "zh")
    assert handler.mails[0][1] == [TO[0], CC[0]]


def test_all_recipients_refused_raises(plain_server, report):
    controller, _ = plain_server
    config = settings(controller.port)
    message = build_message(config, report, SUMMARY, ["nobody@example.com"])
    with pytest.raises(MailError, match="refused every recipient: nobody@example.com "
                                        r"\(550 no such user\)"):
        send(config, message)


def test_write_eml(tmp_path, report):
    out = tmp_path / "out.eml"
    message = build_message(settings(2525), report, SUMMARY, TO, bcc=BCC)
    assert write_eml(message, out) == out
    raw = out.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    got = parse(raw)
    text, html, attachment = parts(got)
    assert "Growth" in text and "Growth" in html
    assert attachment.get_content() == report.read_bytes()
    assert "Bcc" not in got
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.eml", "report.xlsx"]


def test_write_eml_failure_leaves_nothing(tmp_path, report):
    message = build_message(settings(2525), report, SUMMARY, TO)
    target = tmp_path / "folder.eml"
    target.mkdir()  # replacing a folder with a file fails
    with pytest.raises(XlCrmError, match="folder.eml") as err:  # MailError or OutputError
        write_eml(message, target, overwrite=True)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.eml", "report.xlsx"]


@pytest.mark.parametrize("bad", ["boss", "a@b@example.com", "@example.com", "boss@",
                                 "big boss@example.com", "a@x.com b@y.com"])
def test_bad_addresses_are_named(report, bad):
    with pytest.raises(MailError, match=f"bad To address '{bad}'"):
        build_message(settings(2525), report, SUMMARY, [TO[0], bad])


def test_message_needs_recipients_and_a_workbook(report, tmp_path):
    with pytest.raises(MailError, match="no recipients"):
        build_message(settings(2525), report, SUMMARY, [])
    csv = tmp_path / "report.csv"
    csv.write_text("x")
    with pytest.raises(MailError, match=".xlsx or .xlsm"):
        build_message(settings(2525), csv, SUMMARY, TO)
    with pytest.raises(MailError, match="cannot read the report"):
        build_message(settings(2525), tmp_path / "missing.xlsx", SUMMARY, TO)


ENV = {"XL_CRM_SMTP_HOST": "smtp.example.com", "XL_CRM_MAIL_FROM": "reports@example.com"}


def test_settings_env_wins_over_config(tmp_path):
    config = tmp_path / "xl_crm.ini"
    config.write_text("[mail]\nhost = config.example.com\nport = 2525\nsecurity = ssl\n"
                      "user = cfg-user\npassword = cfg-%pass\nfrom = cfg@example.com\n",
                      encoding="utf-8")
    loaded = MailSettings.load({"XL_CRM_SMTP_HOST": "env.example.com",
                                "XL_CRM_SMTP_USER": "env-user", "XL_CRM_SMTP_PORT": ""},
                               config=config)
    assert (loaded.host, loaded.port, loaded.security) == ("env.example.com", 2525, "ssl")
    assert (loaded.user, loaded.password, loaded.sender) == ("env-user", "cfg-%pass",
                                                             "cfg@example.com")
    assert "cfg-%pass" not in repr(loaded)
    # XL_CRM_CONFIG names the default config file
    assert MailSettings.load({"XL_CRM_CONFIG": str(config)}).host == "config.example.com"


def test_settings_defaults():
    loaded = MailSettings.load(ENV)
    assert (loaded.port, loaded.security, loaded.user, loaded.password) == (
        587, "starttls", None, None)
    assert loaded.timeout == 30.0 and loaded.cafile is None
    assert MailSettings.load({**ENV, "XL_CRM_SMTP_SECURITY": "SSL"}).port == 465
    loaded = MailSettings.load({**ENV, "XL_CRM_SMTP_HOST": "localhost",
                                "XL_CRM_SMTP_SECURITY": "none", "XL_CRM_SMTP_CAFILE": "ca.pem"})
    assert (loaded.port, loaded.cafile) == (25, "ca.pem")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1"])
def test_plain_smtp_allowed_on_loopback(host):
    assert MailSettings.load({**ENV, "XL_CRM_SMTP_HOST": host,
                              "XL_CRM_SMTP_SECURITY": "none"}).security == "none"


@pytest.mark.parametrize("host", ["smtp.example.com", "10.0.0.5", "128.0.0.1", "localhost.evil"])
def test_plain_smtp_refused_elsewhere(host):
    with pytest.raises(MailError, match="only allowed for a loopback host"):
        MailSettings.load({**ENV, "XL_CRM_SMTP_HOST": host, "XL_CRM_SMTP_SECURITY": "none"})


def test_settings_errors_name_what_to_set(tmp_path):
    with pytest.raises(MailError, match="XL_CRM_SMTP_HOST"):
        MailSettings.load({"XL_CRM_MAIL_FROM": "a@example.com"})
    with pytest.raises(MailError, match="XL_CRM_MAIL_FROM"):
        MailSettings.load({"XL_CRM_SMTP_HOST": "smtp.example.com"})
    with pytest.raises(MailError, match="XL_CRM_SMTP_PORT must be a port number"):
        MailSettings.load({**ENV, "XL_CRM_SMTP_PORT": "smtp"})
    with pytest.raises(MailError, match="XL_CRM_SMTP_SECURITY must be starttls, ssl or none"):
        MailSettings.load({**ENV, "XL_CRM_SMTP_SECURITY": "tls1.3"})
    with pytest.raises(MailError, match="XL_CRM_SMTP_USER"):
        MailSettings.load({**ENV, "XL_CRM_SMTP_PASSWORD": PASSWORD})
    with pytest.raises(MailError, match="not found"):
        MailSettings.load(ENV, config=tmp_path / "missing.ini")
    broken = tmp_path / "broken.ini"
    broken.write_text(f"password = {PASSWORD}\n", encoding="utf-8")
    with pytest.raises(MailError, match="not a valid INI file") as err:
        MailSettings.load(ENV, config=broken)
    assert PASSWORD not in str(err.value)


def test_plain_smtp_checked_again_when_sending(report):
    config = settings(2525)
    object.__setattr__(config, "host", "smtp.example.com")  # bypassing the checks
    with pytest.raises(MailError, match="only allowed for a loopback host"):
        send(config, _message_for(config))
