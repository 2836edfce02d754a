"""The report email: subject, plain-text and HTML bodies with the key figures and the tier
table, the workbook attached (:func:`build_message`); 7-bit transfer encodings; Bcc kept
off the headers; a dry run's ``.eml`` file (:func:`write_eml`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from ..i18n import LANGS, money_header, text
from ..keyfigures import ReportSummary, TierRow
from ..output import atomic_output
from ..plaintext import flat, pad, shown, shown_share, text_table, width
from .settings import (
    MailError,
    MailSettings,
    address_header,
    parse_addresses,
    sender_mailbox,
)

MIME_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
}


# Messages are built with 7-bit transfer encodings (quoted-printable/base64 bodies), so
# they pass any SMTP server, also one without 8BITMIME.
MESSAGE_POLICY = policy.default.clone(cte_type="7bit")


# Bcc addresses travel on the message object only, never in a header.
BCC_ATTR = "_xl_crm_bcc"


MAIL_KEYS = ("subject", "greeting", "intro", "key", "customers", "revenue", "value", "as_of",
             "source", "tiers", "footer", "colon", "sent", "nobody", "refused", "figures",
             "actions", "no_actions", "more")


def mail_texts(lang: str) -> dict:
    """The message's texts in ``lang`` (from ``data/labels.csv``, keys ``mail.*``)."""
    if lang not in LANGS:
        raise MailError(f"language must be en or zh, not {lang!r}")
    t: dict = {key: text(f"mail.{key}", lang) for key in MAIL_KEYS}
    t["columns"] = tuple(text(f"mail.column.{i}", lang) for i in range(5))
    t["basis"] = {b: text(f"mail.basis.{b}", lang) for b in ("profit", "net sales")}
    t["figure_columns"] = tuple(text(f"fig.{k}", lang) for k in ("figure", "now", "change",
                                                                  "change_share"))
    return t


def subject(summary: ReportSummary, t: dict) -> str:
    """The subject line: the report and month, then the headline change when known."""
    line = t["subject"].format(period=oneline(summary.period))
    sep = ": " if t["colon"] == ":" else t["colon"]  # "：" needs no space after it
    return f"{line}{sep}{oneline(summary.headline)}" if summary.headline else line


def _figure_rows(summary: ReportSummary) -> list[tuple[str, ...]]:
    return [(f.label, shown(f.current), shown(f.change, signed=True),
             shown_share(f.change_share)) for f in summary.figures]


def _action_rows(summary: ReportSummary) -> list[tuple[str, ...]]:
    return [tuple(shown(v) for v in row) for row in summary.actions]


def _actions_title(summary: ReportSummary, t: dict) -> str:
    if not summary.action_count:
        return t["no_actions"]
    return t["actions"].format(shown=len(summary.actions), count=f"{summary.action_count:,}")


def oneline(text: object) -> str:
    """Text on one line (server replies and user data may hold line breaks); other control
    characters (NUL, ESC, ...) become spaces too."""
    return " ".join(flat(str(text)).split())


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _share(value: float) -> str:
    return f"{value:.1%}"


def _tier_cell(row: TierRow) -> str:
    return row.label if not row.name or row.name == row.label else f"{row.label} – {row.name}"


def _figures(summary: ReportSummary, t: dict) -> list[tuple[str, str]]:
    basis = t["basis"].get(summary.value_basis, summary.value_basis)
    return [
        (t["customers"], f"{summary.customers:,}"),
        (money_header(t["revenue"], summary.currency), _money(summary.revenue)),
        (money_header(t["value"].format(basis=basis), summary.currency),
         _money(summary.value)),
        (t["as_of"], summary.as_of),
        (t["source"], summary.source),
    ]


def _tier_header(summary: ReportSummary, t: dict) -> list[str]:
    """The tier table's header, the value column with the currency."""
    header = list(t["columns"])
    header[3] = money_header(header[3], summary.currency)
    return header


def _tier_rows(summary: ReportSummary) -> list[tuple[str, ...]]:
    return [(_tier_cell(r), f"{r.customers:,}", _share(r.customer_share), _money(r.value),
             _share(r.value_share)) for r in summary.tiers]


def _text_table(header: Sequence[str], rows: list[tuple[str, ...]],
                right: Sequence[int]) -> list[str]:
    """A table of monospaced text lines (user text on one line), columns ``right`` right."""
    return text_table([oneline(c) for c in header],
                      [[oneline(c) for c in r] for r in rows], right)


def _text_body(summary: ReportSummary, filename: str, t: dict) -> str:
    figures = [(oneline(k), oneline(v)) for k, v in _figures(summary, t)]
    key_width = max(width(k) for k, _ in figures) + 2
    lines = [t["greeting"], "", t["intro"].format(period=summary.period, file=filename)]
    if summary.window:
        lines += [oneline(f"{summary.window} · {summary.comparison}")]
    lines += [oneline(f"! {w}") for w in summary.warnings]
    if summary.figures:
        lines += ["", t["figures"]]
        lines += _text_table(t["figure_columns"], _figure_rows(summary), (1, 2, 3))
    if summary.window:
        lines += ["", _actions_title(summary, t)]
        if summary.actions:
            lines += _text_table(summary.action_header, _action_rows(summary), (0, 3, 6))
            lines += ["  " + t["more"]]
    if summary.attachment_note:
        lines += ["", oneline(summary.attachment_note)]
    lines += ["", t["key"]]
    lines += ["  " + pad(k + t["colon"], key_width, False) + v for k, v in figures]
    if summary.tiers:
        lines += ["", t["tiers"]]
        lines += _text_table(_tier_header(summary, t), _tier_rows(summary), (1, 2, 3, 4))
    lines += ["", t["footer"], ""]
    return "\n".join(lines)


_CELL = "padding:4px 10px;border-bottom:1px solid #dddddd;"
# Outlook (Word's renderer) does not pass the body's font on to table cells: every cell
# names it. Chinese first in the fonts Windows and macOS ship.
FONTS = {"en": "Arial,Helvetica,sans-serif",
         "zh": "'Microsoft YaHei','微软雅黑','PingFang SC','Noto Sans CJK SC',SimSun,"
               "Arial,sans-serif"}


def _html_table(header: Sequence[str], rows: list[tuple[str, ...]],
                right: Sequence[int], lang: str) -> list[str]:
    """An HTML table with inline styles and the font on every cell (what Outlook renders)."""
    e = html.escape
    cell = f"{_CELL}font-family:{FONTS[lang]};font-size:13px;"
    out = ['<table style="border-collapse:collapse;margin:0 0 16px 0;">', "<tr>" + "".join(
        f'<th style="{cell}background:#f2f2f2;text-align:'
        f'{"right" if i in right else "left"};">{e(col)}</th>'
        for i, col in enumerate(header)) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td style="{cell}text-align:{"right" if i in right else "left"};">{e(value)}</td>'
            for i, value in enumerate(row)) + "</tr>")
    out.append("</table>")
    return out


def _html_body(summary: ReportSummary, filename: str, t: dict, lang: str) -> str:
    e = html.escape
    title = subject(summary, t)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title></head>',
        (f'<body style="margin:0;padding:16px;font-family:{FONTS[lang]};'
         'font-size:14px;color:#222222;background:#ffffff;">'),
        f'<h1 style="font-size:18px;margin:0 0 12px 0;">{e(title)}</h1>',
        f'<p style="margin:0 0 4px 0;">{e(t["greeting"])}</p>',
        (f'<p style="margin:0 0 16px 0;">'
         f'{e(t["intro"].format(period=summary.period, file=filename))}</p>'),
    ]
    h2 = '<h2 style="font-size:15px;margin:0 0 6px 0;">{}</h2>'
    if summary.window:
        out.append(f'<p style="margin:0 0 16px 0;color:#555555;">'
                   f'{e(summary.window)} · {e(summary.comparison)}</p>')
    for warning in summary.warnings:
        out.append(f'<p style="margin:0 0 8px 0;color:#c00000;font-weight:bold;">'
                   f'{e(warning)}</p>')
    if summary.figures:
        out += [h2.format(e(t["figures"])),
                *_html_table(t["figure_columns"], _figure_rows(summary), (1, 2, 3), lang)]
    if summary.window:
        out.append(h2.format(e(_actions_title(summary, t))))
        if summary.actions:
            out += _html_table(summary.action_header, _action_rows(summary), (0, 3, 6), lang)
            out.append(f'<p style="margin:0 0 16px 0;">{e(t["more"])}</p>')
    if summary.attachment_note:
        out.append(f'<p style="margin:0 0 16px 0;font-weight:bold;">'
                   f'{e(summary.attachment_note)}</p>')
    out += [h2.format(e(t["key"])), '<table style="border-collapse:collapse;margin:0 0 16px 0;">']
    font = f"font-family:{FONTS[lang]};font-size:13px;"
    for key, value in _figures(summary, t):
        out.append(f'<tr><th style="{font}text-align:left;font-weight:normal;color:#555555;'
                   f'padding:3px 16px 3px 0;">{e(key)}</th>'
                   f'<td style="{font}padding:3px 0;">{e(value)}</td></tr>')
    out.append("</table>")
    if summary.tiers:
        out += [h2.format(e(t["tiers"])),
                *_html_table(_tier_header(summary, t), _tier_rows(summary), (1, 2, 3, 4), lang)]
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
    t = mail_texts(lang)
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
    message["Subject"] = subject(summary, t)
    message["From"] = address_header([sender_mailbox(settings.sender)])
    if to:
        message["To"] = address_header(to)
    if cc:
        message["Cc"] = address_header(cc)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_msgid_domain(settings.sender_address))
    message.set_content(_text_body(summary, report.name, t))
    message.add_alternative(_html_body(summary, report.name, t, lang), subtype="html")
    maintype, subtype = mime.split("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=report.name)
    setattr(message, BCC_ATTR, bcc)
    return message


def message_recipients(message: EmailMessage) -> tuple[str, ...]:
    """Every envelope recipient of ``message``: To, Cc, and Bcc (kept off the headers)."""
    headers = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    found = [addr for _, addr in getaddresses(headers) if addr]
    found += getattr(message, BCC_ATTR, ())
    return tuple(dict.fromkeys(found))


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
