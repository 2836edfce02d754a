"""The ``xl-crm`` command line: the same analysis as the Excel functions, without Excel.

Each command parses its arguments, calls library functions and turns a domain error into
a one-line message on stderr with exit status 1 (2 for a usage error). Sending mail
never blocks the report: the report is written first; if sending fails it stays, and the
command says so with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .core.constants import LANGS
from .core.errors import InputError, XlCrmError
from .engines import ENGINE_CHOICES
from .options import OPTIONS
from .output import OutputError, check_target

if TYPE_CHECKING:  # pandas, the core and the report are imported when a command runs
    import pandas as pd

    from .core.analysis import Analysis, Options

STARTED = time.perf_counter()
SAMPLE = Path(__file__).resolve().parent / "data" / "sample_sales.xlsx"  # package data
DEMO_OUTPUT = Path("out")
USER_TEMP: Path | None = None  # the user's temporary folder (the run uses a private one)
REPORT_SUFFIX = ".xlsx"
INPUT_HELP = ("sales data file, or several files or a folder of monthly exports, analysed as "
              "one history (orders in several files counted once); with --engine spark "
              "one path Spark reads (a folder of Parquet, s3a://..., hdfs://...)")
# the analysis options that are flags of report, analyze and demo (--sheet and --lang are
# added where a command takes them)
ANALYSIS_FLAGS = tuple(o for o in OPTIONS.values() if o.cli and (o.analysis or o.name == "columns"))
_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# signals that stop a run like Ctrl-C (cleanup first), with their exit status and message
STOP_SIGNALS = {"SIGINT": (130, "interrupted"), "SIGTERM": (143, "terminated"),
                "SIGHUP": (129, "terminated")}


def sample_path() -> Path:
    """The shipped sample workbook (package data: ``xl_crm/data/sample_sales.xlsx``)."""
    return SAMPLE


def _options(args: argparse.Namespace) -> Options:
    """The analysis options of the flags given (the rest keep their defaults)."""
    from .options import analysis_options

    values = _option_values(args)
    values.pop("columns", None)
    return analysis_options(values)


def _option_values(args: argparse.Namespace) -> dict[str, object]:
    """The table options given as flags, each checked by its parser; a bad value is a
    one-line InputError naming the flag (``--a-cut: must be a fraction, e.g. 0.8 for
    80%``)."""
    values = {}
    for option in ANALYSIS_FLAGS:
        raw = getattr(args, option.name, None)
        if raw is None:
            continue
        if option.name == "columns":  # repeatable: the values add up
            raw = ";".join(raw)
        try:
            values[option.name] = option.parse(raw)
        except ValueError as err:
            raise InputError(str(err), option.cli_flag) from None
    return values


def parse_columns(items: Sequence[str]) -> dict[str, str]:
    """``--columns`` values (``role=HEADER`` items separated by ``,`` or ``;``, the flag
    repeatable) as the ``{role: header}`` mapping of
    :func:`xl_crm.core.columns.detect_columns`; see :func:`xl_crm.options.parse_columns`."""
    if not items:
        return {}
    return _option_values(argparse.Namespace(columns=list(items)))["columns"]


def decision_lines(result: Analysis, lang: str = "en", actions: int = 20) -> list[str]:
    """The decision views as text: data window, headline figures with their change, the
    top of the action list and the ABC migration (the report's Summary page)."""
    from . import decisions
    from .i18n import text
    from .plaintext import shown, shown_share, text_table

    window = decisions.data_window(result, lang)
    lines = [f"{window}; {decisions.comparison_note(result, lang)}",
             *(f"warning: {w}" for w in decisions.data_warnings(result, lang)), ""]
    figures = [[f.label, shown(f.current), shown(f.previous), shown(f.change, signed=True),
                shown_share(f.change_share)] for f in decisions.headline_figures(result, lang)]
    lines += text_table([text(f"fig.{k}", lang) for k in decisions.FIGURE_COLUMNS],
                        figures, (1, 2, 3, 4), indent="")
    count = decisions.action_count(result)
    lines += ["", text("act.count", lang, count=f"{count:,}") if count else
              text("act.none", lang)]
    header, *rows = decisions.short_actions(result, lang, actions)
    if rows:
        lines += text_table(header, [[shown(v) for v in r] for r in rows], (0, 3, 6),
                            indent="")
    matrix = decisions.migration_table(result, "abc", lang)
    if matrix is not None:
        lines += ["", text("changes.counts", lang, name=text("summary.abc", lang))]
        lines += text_table(matrix[0], [[r[0], *(shown(v) for v in r[1:])] for r in matrix[1:]],
                            range(1, len(matrix[0])), indent="")
    return lines


def format_analysis(result: Analysis) -> str:
    """Plain-text tables of an analysis, for the terminal."""
    import pandas as pd

    from .decisions import history_note, method_warnings

    log = result.log
    lines = [
        f"xl_crm {__version__} - customer value of {log['source']}",
        f"as of {log['as_of']} ({log['as_of_source']}); data from {log['first_date']}",
        (f"rows read {log['rows_read']:,}, blank rows skipped {len(log['blank_rows'])}, "
         f"rows after the analysis date left out {log['rows_after_as_of']}"),
        (f"customers {log['customers']:,} (without a purchase: "
         f"{log['customers_without_purchase']}); value = {result.value_basis}, "
         f"total {result.total_value:,.2f}"),
    ]
    history = history_note(result)
    if history:
        lines.insert(3, history)
    lines += ["", *decision_lines(result)]
    titles = {"abc": "ABC tiers", "pyramid": "Customer pyramid", "segment": "RFM segments",
              "stage": "Lifecycle stages", "quadrant": "Customer value matrix"}
    for key, title in titles.items():
        lines += ["", title, _table(result.summaries[key])]
    clv = pd.DataFrame({
        group: {"customers": inputs.group_size, "retention": inputs.retention,
                "orders/yr": inputs.orders, "order value": inputs.order_value,
                "cost rate": inputs.cost_rate,
                f"CLV {inputs.years}y": inputs.table().loc["Lifetime value per customer"].iloc[-1]}
        for group, inputs in result.clv.items()
    }).T
    title = ("Dwyer lifetime value per customer (inputs measured from the data; "
             "10% discount assumed)")
    lines += ["", title, clv.to_string(float_format=lambda v: f"{v:,.2f}")]
    lines += [f"warning: {w}" for w in method_warnings(result)["clv"]]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for col in ("customer_share", "value_share"):
        shown[col] = shown[col].map(lambda v: f"{v:.1%}")
    return shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}")


def progress(message: str) -> None:
    """Progress on the terminal (stderr, only when it is a terminal)."""
    if sys.stderr.isatty():
        print(f"[{time.perf_counter() - STARTED:6.1f}s] {message} ...", file=sys.stderr,
              flush=True)


def _analysis(args: argparse.Namespace) -> Analysis:
    from .engines import analyze_path

    engine = getattr(args, "engine", "auto")
    table, conf = getattr(args, "table", None), getattr(args, "conf", None) or []
    urls = [str(p) for p in args.input if not isinstance(p, Path)]
    if engine != "spark":
        if urls:
            raise InputError(f"{urls[0]}: a URL is read by --engine spark")
        if table is not None or conf:
            raise InputError(f"{'--table' if table is not None else '--conf'} goes with "
                             "--engine spark")
    if not args.input and table is None:
        raise InputError("give INPUT, a sales file (or with --engine spark, --table NAME)")
    spark_conf = None
    if conf:
        from .spark.session import parse_conf

        spark_conf = parse_conf(conf)
    return analyze_path(args.input or None, _options(args), engine,
                        sheet=args.sheet, progress=progress,
                        mapping=parse_columns(getattr(args, "columns", None) or []),
                        table=table, spark_conf=spark_conf)


def read_ahead(args: argparse.Namespace) -> None:
    """Start reading one workbook INPUT on a second core while the command imports what
    it needs (:func:`xl_crm.xlsx_fast.read_ahead`); other inputs are read when the
    analysis gets to them."""
    inputs = getattr(args, "input", None) or []
    if len(inputs) != 1 or not isinstance(inputs[0], Path) or \
            getattr(args, "engine", "auto") not in ("auto", "pandas") or \
            inputs[0].suffix.lower() not in (".xlsx", ".xlsm"):
        return
    from . import xlsx_fast

    xlsx_fast.read_ahead(inputs[0], args.sheet)


def input_arg(text: str) -> Path | str:
    """An INPUT argument: a path on this computer, or a URL (``s3a://...``) kept as text
    (a Path would fold its ``//``)."""
    return text if "://" in text and not text.startswith("file:") else Path(text)


def local_inputs(args: argparse.Namespace) -> list[Path]:
    """The INPUT paths on this computer, which no output may replace."""
    return [p for p in args.input if isinstance(p, Path)]


def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the analysis of INPUT."""
    read_ahead(args)
    print(format_analysis(_analysis(args)))
    return 0


def report_target(args: argparse.Namespace) -> Path | None:
    """The ``-o`` path, checked before any work: refused (one line) unless it ends in
    .xlsx, the only format the report is (Excel refuses to open .xlsx content under another
    extension), and as :func:`xl_crm.output.check_target` refuses targets."""
    output = args.output
    if output is None:
        return None
    if not output.is_dir() and output.suffix.lower() != REPORT_SUFFIX:
        shown = f" (not {output.suffix})" if output.suffix else ""
        raise OutputError(f"{output.name}: the report is an Excel workbook; its name must "
                          f"end in {REPORT_SUFFIX}{shown}")
    check_target(output, args.overwrite, local_inputs(args))
    return output


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report workbook of INPUT; email it when asked."""
    output = report_target(args)
    parse_columns(args.columns or [])  # a bad --columns is refused before reading the file
    read_ahead(args)
    from .decisions import report_summary
    from .delivery import mail_attachment
    from .report import ReportOptions, write_report

    managers = _managers(args)  # a bad managers file too
    if managers:
        from .engines import analyze_sales, input_paths, read_sales_paths

        sales, source = read_sales_paths(input_paths(args.input), args.sheet,
                                         parse_columns(args.columns or []), None, progress)
        result = analyze_sales(sales, source, _options(args), progress)
    else:
        result = _analysis(args)
    output = output or Path(f"customer-value-{result.as_of:%Y-%m}.xlsx")
    progress(f"writing {output}")
    written = write_report(result, output, ReportOptions(lang=args.lang, tiers=args.tiers),
                           overwrite=args.overwrite, inputs=local_inputs(args))
    print(f"report written: {written}")
    status = 0
    if managers:
        status = _split(args, result, sales, source, managers, written)
    if not (args.email or args.cc or args.bcc):
        return status
    failed = f"the report is written ({written}) but was not sent"
    try:
        attachment, summary = mail_attachment(result, written,
                                              report_summary(result, args.lang), args.lang,
                                              inputs=local_inputs(args),
                                              overwrite=args.overwrite)
    except XlCrmError as err:
        print(f"xl-crm: {one_line(f'{failed}: {err}')}", file=sys.stderr)
        return 1
    if attachment != written:
        print(f"summary for mail written: {attachment}")
    return max(status, _mail(attachment, summary, args, failed))


def _managers(args: argparse.Namespace) -> list | None:
    """The managers of ``--managers`` (with ``--split-by``), read and checked before any
    work; None without the flags."""
    if args.split_by is None and args.managers is None:
        return None
    if args.split_by is None or args.managers is None:
        raise InputError("--split-by and --managers go together (--split-by region "
                         "--managers managers.csv)")
    if args.engine in ("duckdb", "spark"):
        raise InputError("--split-by reads with the pandas engine (leave out --engine)",
                         "--engine")
    from .managers import read_managers

    return read_managers(args.managers, args.split_by)


def _split(args: argparse.Namespace, result: Analysis, sales, source, managers, written: Path
           ) -> int:
    """Write and send the managers' workbooks; exit status 1 when one did not go out."""
    from .split_reports import plan, send_split

    progress(f"writing one report per {args.split_by}")
    deliveries, warnings = plan(result, sales, source, managers, args.split_by,
                                _options(args), args.lang)
    for w in warnings:
        print(f"xl-crm: {one_line(w)}", file=sys.stderr)
    ok = send_split(deliveries, written, args.split_by, tiers=args.tiers,
                    dry_run=args.dry_run, overwrite=args.overwrite, inputs=local_inputs(args),
                    say=print, complain=lambda m: print(f"xl-crm: {one_line(m)}",
                                                        file=sys.stderr))
    return 0 if ok else 1


def _mail(report: Path, summary, args: argparse.Namespace, failed: str = "not sent") -> int:
    from .mail import mail_report

    progress("sending" if not args.dry_run else "writing the message")
    try:
        line, complete = mail_report(report, summary, args.email, args.cc, args.bcc,
                                     args.lang, args.dry_run, overwrite=args.overwrite)
    except XlCrmError as err:
        print(f"xl-crm: {one_line(f'{failed}: {err}')}", file=sys.stderr)
        return 1
    print(line)
    if not complete:
        print("xl-crm: some recipients were refused", file=sys.stderr)
        return 1
    return 0


def cmd_email(args: argparse.Namespace) -> int:
    """Email an existing report."""
    from .delivery import check_attachment
    from .report import read_summary

    args.email = args.to
    summary = read_summary(args.report)
    check_attachment(args.report)
    return _mail(args.report, summary, args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Analyse the shipped sample, print the tables and write its report to out/."""
    args.input, args.sheet = [sample_path()], None
    read_ahead(args)
    from .report import ReportOptions, write_report

    result = _analysis(args)
    print(format_analysis(result))
    if DEMO_OUTPUT.exists() and not DEMO_OUTPUT.is_dir():
        raise OutputError(f"{DEMO_OUTPUT.resolve()} is a file, not a folder; the demo writes "
                          "its report into a folder of that name")
    DEMO_OUTPUT.mkdir(exist_ok=True)
    output = DEMO_OUTPUT / f"sample-customer-value-{result.as_of:%Y-%m}-{args.lang}.xlsx"
    written = write_report(result, output, ReportOptions(lang=args.lang, tiers=args.tiers),
                           overwrite=True, inputs=args.input)
    print(f"\nreport written: {written}")
    return 0


def _add_analysis_options(p: argparse.ArgumentParser, columns: bool = True) -> None:
    """``--engine`` and the analysis options of :data:`xl_crm.options.OPTIONS` (flag,
    help and default from the table; values are checked when the command runs)."""
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                   help="auto (default: duckdb for large CSV/Parquet files, else pandas), "
                   "pandas (every format), duckdb (CSV/Parquet of any size) or spark "
                   "(Apache Spark: master from XL_CRM_SPARK_MASTER, default local[*])")
    for option in ANALYSIS_FLAGS:
        if option.name == "columns":
            if columns:
                p.add_argument(option.cli_flag, action="append", dest=option.name,
                               metavar="ROLE=HEADER[,ROLE=HEADER...]",
                               help=f"{option.help}; repeatable")
            continue
        shown = option.shown_default
        p.add_argument(option.cli_flag, dest=option.name, metavar="VALUE",
                       help=option.help if not shown or "default" in option.help
                       else f"{option.help} (default {shown})")


def _add_spark_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", metavar="NAME",
                   help="with --engine spark: read this table of Spark's catalogue "
                   "(e.g. db.sales) instead of INPUT")
    p.add_argument("--conf", action="append", metavar="KEY=VALUE",
                   help="with --engine spark: Spark configuration for the session, "
                   "repeatable (also XL_CRM_SPARK_CONF, pairs separated by ';')")


def _add_report_options(p: argparse.ArgumentParser) -> None:
    _add_lang(p)
    p.add_argument("--tiers", nargs="+", choices=("abc", "pyramid"), default=["abc"],
                   help="tier sheets to write (default abc)")


def _add_sheet(p: argparse.ArgumentParser) -> None:
    p.add_argument(OPTIONS["sales_sheet"].cli_flag, dest="sheet", help=OPTIONS["sales_sheet"].help)


def _add_lang(p: argparse.ArgumentParser) -> None:
    option = OPTIONS["language"]
    p.add_argument(option.cli_flag, choices=LANGS, default=option.default, help=option.help)


def _add_mail_options(p: argparse.ArgumentParser, to_flag: str) -> None:
    """Recipient flags: each takes one or more values and may be repeated (the values add
    up); a value may hold several addresses separated by , or ; (see xl_crm.mail)."""
    p.add_argument(to_flag, action="extend", nargs="+", default=[], metavar="ADDRESS",
                   required=to_flag == "--to", dest="to" if to_flag == "--to" else "email",
                   help="recipients (repeat the flag or list several)")
    p.add_argument("--cc", action="extend", nargs="+", default=[], metavar="ADDRESS",
                   help="copy recipients")
    p.add_argument("--bcc", action="extend", nargs="+", default=[], metavar="ADDRESS",
                   help="blind copy recipients")
    p.add_argument("--dry-run", action="store_true",
                   help="write the message as REPORT.eml instead of sending it")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests that check every command has help)."""
    parser = argparse.ArgumentParser(
        prog="xl-crm", description="Customer value from sales data: RFM, ABC, pyramid, CLV, "
        "lifecycle, value matrix and strategy. Mail settings: XL_CRM_SMTP_HOST, "
        "XL_CRM_SMTP_PORT, XL_CRM_SMTP_SECURITY, XL_CRM_SMTP_USER, XL_CRM_SMTP_PASSWORD, "
        "XL_CRM_MAIL_FROM.",
        epilog="Example: xl-crm report sales.xlsx --lang zh --email boss@example.com")
    parser.add_argument("--version", action="version", version=f"xl_crm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="write the formatted report workbook of a sales file",
                       description="Analyse a sales file (.xlsx, .xlsm, .csv, .parquet) and "
                       "write the management report workbook. Example: xl-crm report "
                       "sales.xlsx -o report.xlsx --as-of 2026-10-31 --email boss@example.com")
    p.add_argument("input", type=input_arg, nargs="*", help=INPUT_HELP)
    p.add_argument("-o", "--output", type=Path,
                   help="report file, ending in .xlsx (default: customer-value-YYYY-MM.xlsx "
                   "here)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing report (and, with --dry-run, its .eml)")
    _add_sheet(p)
    _add_analysis_options(p)
    _add_spark_options(p)
    _add_report_options(p)
    _add_mail_options(p, "--email")
    p.add_argument("--split-by", choices=("region", "rep"),
                   help="also one workbook per manager, holding only the customers of their "
                   "region or sales rep (a customer's latest line decides), sent to that "
                   "manager only; needs --managers")
    p.add_argument("--managers", type=Path, metavar="FILE",
                   help="CSV or workbook (sheet Managers): region or rep value, email, "
                   "optional name and language; * marks head office (the full report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="analyse the shipped sample data (no arguments needed)",
                       description="Analyse the sample sales shipped in workbooks/, print the "
                       "tables and write the report to out/. Example: xl-crm demo --lang zh")
    _add_analysis_options(p, columns=False)
    _add_report_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("email", help="email an existing report",
                       description="Email a report written by xl-crm report. Example: "
                       "xl-crm email customer-value-2026-10.xlsx --to boss@example.com")
    p.add_argument("report", type=Path, help="report workbook")
    _add_lang(p)
    p.add_argument("--overwrite", action="store_true",
                   help="with --dry-run: replace an existing REPORT.eml")
    _add_mail_options(p, "--to")
    p.set_defaults(func=cmd_email)

    p = sub.add_parser("analyze", help="print the analysis of a sales file",
                       description="Print the analysis of a sales file (.xlsx, .xlsm, .csv, "
                       ".parquet). Example: xl-crm analyze sales.xlsx --as-of 2026-10-31")
    p.add_argument("input", type=input_arg, nargs="*", help=INPUT_HELP)
    _add_sheet(p)
    _add_analysis_options(p)
    _add_spark_options(p)
    p.set_defaults(func=cmd_analyze)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, like Ctrl-C's KeyboardInterrupt, so
    that every ``finally`` (temporary report file, openpyxl's sheet files, the DuckDB
    connection) runs before the process ends."""


class Stops:
    """The stop signals received during a run, and whether they may raise now."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.holding = False
        self.raised = False

    def handle(self, signum: int, frame: object) -> None:
        """Signal handler: the first signal raises, unless a cleanup is holding it."""
        self.received.append(signum)
        if len(self.received) == 1 and not self.holding:
            self._raise()

    def _raise(self) -> None:
        self.raised = True
        signum = self.received[0]
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)

    def raise_held(self) -> None:
        """Raise now the first signal that arrived while held (none raised yet)."""
        if self.received and not self.raised:
            self._raise()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Signals are only recorded inside (a step that must finish: a cleanup, or making
        a folder and recording it for its cleanup)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False


@contextlib.contextmanager
def stop_signals() -> Iterator[Stops]:
    """Turn SIGINT, SIGTERM and SIGHUP into exceptions for the duration (main thread only;
    a signal the parent set to be ignored, as ``nohup`` does for SIGHUP, stays ignored).

    Only the first signal raises; later ones are recorded and let the cleanup finish. The
    previous handlers are put back.
    """
    stops = Stops()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in STOP_SIGNALS:
            signum = getattr(signal, name, None)  # Windows has no SIGHUP
            if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, stops.handle)
    try:
        yield stops
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def private_tempdir(stops: Stops) -> Iterator[Path]:
    """A private folder (mode 0700) as :mod:`tempfile`'s folder for the run, removed with
    everything in it at the end, whatever happens (a signal included): openpyxl streams
    each report sheet to a temporary file there, which a signal can catch between its
    creation and openpyxl's own bookkeeping; these files hold customer data."""
    global USER_TEMP
    previous, folder = tempfile.tempdir, None
    try:
        with stops.held():  # a signal between making the folder and recording it left it
            # (and gettempdir's first call probes TMPDIR with a file it then removes)
            USER_TEMP = Path(tempfile.gettempdir())
            with contextlib.suppress(OSError):  # no writable temporary folder: a command
                folder = tempfile.mkdtemp(prefix="xl-crm-")  # that needs one says so
            if folder is not None:
                tempfile.tempdir = folder
        stops.raise_held()
        yield USER_TEMP if folder is None else Path(folder)
    finally:
        tempfile.tempdir = previous
        if folder is not None:
            with stops.held():
                shutil.rmtree(folder, ignore_errors=True)


def _stopped(received: Sequence[int], err: BaseException | None = None) -> int:
    """Exit status and one line for a run stopped by a signal (the first one received)."""
    if received:
        code, said = STOP_SIGNALS[signal.Signals(received[0]).name]
    else:  # a KeyboardInterrupt without our handler (SIGINT arriving before it was set)
        code, said = STOP_SIGNALS["SIGTERM" if isinstance(err, Terminated) else "SIGINT"]
    # the writer the signal interrupted (openpyxl's zip, stopped inside a member) is
    # finalized as the process exits and would print "Exception ignored in ...
    # ZipFile.__del__"; its file is already removed, so after a stop that is not news
    sys.unraisablehook = _ignore_unraisable
    print(f"xl-crm: {said}", file=sys.stderr)
    return code


def _ignore_unraisable(unraisable: object) -> None:
    """The unraisable-exception hook of a stopped run: says nothing (see :func:`_stopped`)."""


def error_line(err: Exception) -> str:
    """The one line (without the ``xl-crm: `` prefix) the user sees for ``err``."""
    if isinstance(err, XlCrmError):
        return str(err)
    if isinstance(err, OSError):  # a file that cannot be read or written (open in Excel, ...)
        return f"{err.strerror or err}: {err.filename or ''}".rstrip(": ")
    # a genuine bug: one line for the user, never a traceback
    return f"unexpected error: {type(err).__name__}: {err}"


def one_line(message: str) -> str:
    """``message`` safe for one terminal line: line breaks become spaces, other control
    characters (an ESC could drive the terminal) their ``\\xNN`` escape."""
    message = _LINE_BREAKS.sub(" ", message.strip())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", message)


def one_blas_thread() -> None:
    """One OpenBLAS thread for this process unless the user chose (``OPENBLAS_NUM_THREADS``),
    set before numpy loads: xl_crm's numerical work is vectors and small matrices, never a
    large product that threads would speed up, and starting OpenBLAS's pool of threads
    took 0.06 s of numpy's 0.15 s import. Nothing changes once numpy is loaded (a caller
    in Python), or where numpy uses another BLAS (macOS's Accelerate)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# Python's cyclic garbage collector while a command runs: a collection after every
# GC_YOUNG container objects made (Python's default is 700; mypy runs with 200,000). A
# command makes millions of short-lived objects (imports, cell values, XML text) and
# almost no cycles, and at 700 the collector's passes over the ever older objects took
# 0.07 s of the sample report's 1.5 s (medians of 15 runs). Cycles are still collected,
# only less often.
GC_YOUNG = 100_000


_collections = threading.Lock()
_collecting: list[tuple[int, ...]] = []  # the thresholds before, once per block running


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with the collector's first threshold :data:`GC_YOUNG`; the thresholds
    are restored when the last such block ends (``main`` may be called in a longer-lived
    Python, and in several threads at once)."""
    with _collections:
        if not _collecting:
            before = gc.get_threshold()
            gc.set_threshold(max(GC_YOUNG, before[0]), *before[1:])
            _collecting.append(before)
        else:
            _collecting.append(_collecting[0])
    try:
        yield
    finally:
        with _collections:
            before = _collecting.pop()
            if not _collecting:
                gc.set_threshold(*before)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xl-crm`` console script.

    Exit status: 0 done, 1 an error (one line on stderr starting ``xl-crm: ``), 2 a usage
    error, 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP; after a signal the partial
    report and every temporary file are removed.
    """
    one_blas_thread()
    with fewer_collections(), stop_signals() as stops:
        received = stops.received
        try:
            args = build_parser().parse_args(argv)
            with private_tempdir(stops):
                code = args.func(args)
                sys.stdout.flush()  # a closed pipe is reported here, not at exit
            return _stopped(received) if received else code
        except KeyboardInterrupt as err:
            return _stopped(received, err)
        except BrokenPipeError:  # the reader of our output went away (xl-crm ... | head)
            with contextlib.suppress(OSError):  # no flush at exit into the closed pipe
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except Exception as err:  # noqa: BLE001 - one line for the user, never a traceback
            if received:  # DuckDB turns the signal into its own error (or ours into it)
                return _stopped(received, err)
            print(f"xl-crm: {one_line(error_line(err))}", file=sys.stderr)
            return 1


def console() -> int:
    """The ``xl-crm`` console script and ``python -m xl_crm.cli``: :func:`main`, after
    which the process ends without the collector's passes over every object (Python
    makes them while it tears down its modules: 0.07 s of the sample report's 1.5 s):
    ``gc.freeze`` puts every object out of their reach. Objects are still finalised as
    their modules are torn down, and exit handlers still run; what must be cleaned up
    (temporary files, a partial report) ``main`` has cleaned up already."""
    code = main()
    gc.disable()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
