"""The button macro (classic xlwings): ``RunPython "import xl_crm.macros;
xl_crm.macros.monthly_report()"``, or the shipped workbook's button.

A thin adapter: it finds the calling workbook, runs :func:`xl_crm.monthly.run` (which
holds all the logic), saves the report next to the workbook in ``reports/`` and offers to
email it when recipients and mail settings exist. Errors reach the user as a message box,
never a traceback; a failure leaves the workbook as it was.
"""

from __future__ import annotations

from pathlib import Path

from .core.errors import XlCrmError
from .decisions import report_summary
from .delivery import mail_attachment
from .mail import MailError, MailSettings, mail_report
from .monthly import run
from .monthly.job import send_to_managers

TITLE = "xl_crm"


def monthly_report(book=None) -> None:
    """Turn the calling workbook's sales sheet into result sheets and a saved report."""
    import xlwings as xw

    book = book or xw.Book.caller()
    try:
        outcome = run(book, report_dir=report_folder(book.fullname))
        reason = outcome.report_error
        if reason is None and outcome.settings.save_report and "://" in book.fullname:
            reason = (f"the workbook is opened from {book.fullname.split('://')[0]}:// "
                      "(OneDrive or SharePoint), not from a folder on this computer; save a "
                      "copy in a local folder (or sync the folder) to get the report file")
        if reason:
            book.app.alert(f"The result sheets were written, but the report was not saved: "
                           f"{reason}", title=TITLE)
        _offer_mail(book, outcome)
        _offer_manager_mail(book, outcome)
    except XlCrmError as err:
        book.app.alert(str(err), title=TITLE)
    except Exception as err:  # noqa: BLE001 - the user gets a message box, not a traceback
        book.app.alert(f"Unexpected error: {type(err).__name__}: {err}", title=TITLE)


def report_folder(fullname: str) -> Path | None:
    """``reports/`` beside the workbook, or None when the workbook is not a file on this
    computer (never saved, or opened from OneDrive/SharePoint by URL)."""
    path = Path(fullname)
    if "://" in fullname or not path.is_absolute() or not path.parent.is_dir():
        return None
    return path.parent / "reports"


def _offer_mail(book, outcome) -> None:
    settings = outcome.settings
    if not (outcome.report and settings.recipients):
        return
    try:
        MailSettings.load()
    except MailError:
        return  # no mail settings: nothing to offer
    who = ", ".join(settings.recipients)
    if book.app.alert(f"Email {outcome.report.name} to {who}?", title=TITLE,
                      buttons="yes_no") != "yes":
        return
    lang = settings.language
    attachment, summary = mail_attachment(outcome.analysis, outcome.report,
                                          report_summary(outcome.analysis, lang), lang,
                                          overwrite=True)  # the button's own reports folder
    line, _ = mail_report(attachment, summary, settings.recipients, settings.cc, lang=lang)
    book.app.alert(line, title=TITLE)


def _offer_manager_mail(book, outcome) -> None:
    """With the split_by setting and a Managers sheet: offer to send each manager a report
    of only their customers."""
    if not (outcome.report and outcome.managers):
        return
    try:
        MailSettings.load()
    except MailError:
        book.app.alert("The managers' reports were not sent: no mail settings "
                       "(XL_CRM_SMTP_HOST ...)", title=TITLE)
        return
    if book.app.alert(f"Email each of the {len(outcome.managers)} managers of the Managers "
                      f"sheet a report of only their customers "
                      f"({outcome.settings.split_by})?", title=TITLE,
                      buttons="yes_no") != "yes":
        return
    lines, _ = send_to_managers(outcome)
    book.app.alert("\n".join(lines), title=TITLE)
