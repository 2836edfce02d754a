"""Hostile input through the command line: control characters in names, amounts at the
limit, signals in the middle of a report, wrong output names, repeated recipient flags,
column mappings, and a list of known bad inputs that must never reach "unexpected error".

Real files on disk and the real ``xl-crm`` console script in a subprocess wherever the
behaviour is about a process (signals, exit status, stderr); the in-process ``main``
otherwise. No mocks.
"""

from __future__ import annotations

import csv
import email
import email.policy
import gc
import io
import os
import pty
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.escape import unescape
from openpyxl.workbook import Workbook

from xl_crm.cli import main, parse_columns
from xl_crm.core.errors import InputError
from xl_crm.report import read_summary
from xl_crm.report.layout import cell_text

from .conftest import SAMPLE_ZH

BIN = Path(sys.executable).parent
XL_CRM = [str(BIN / "xl-crm")] if (BIN / "xl-crm").exists() else [sys.executable, "-m",
                                                                   "xl_crm.cli"]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
ENGINES = ("pandas", "duckdb")
# every character openpyxl refuses (openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE)
ILLEGAL = [chr(c) for c in range(32) if ILLEGAL_CHARACTERS_RE.match(chr(c))]


def write_csv(path: Path, rows: list[list[object]],
              header: tuple[str, ...] = ("Customer", "Name", "Date", "Amount")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cell_texts(report: Path) -> list[str]:
    """Every inline text of every worksheet, as stored in the XML."""
    texts = []
    with zipfile.ZipFile(report) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                root = ElementTree.fromstring(z.read(name))
                texts += ["".join(t.itertext()) for t in root.iterfind(".//m:is", NS)]
    return texts


def one_line_error(err: str) -> str:
    """The single stderr line of a failed run (asserted to be exactly one, prefixed)."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("xl-crm: "), err
    assert "unexpected error" not in err and "Traceback" not in err, err
    return err.rstrip("\n")


def run_cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*XL_CRM, *args], capture_output=True, text=True, timeout=600,
                          check=False, **kw)


# --- 1. control characters in names are written visibly, never crash the report ---

def expected_shown(value: str) -> str:
    """What Excel must show for a name: control pictures for the characters a workbook
    cannot hold, U+FFFD for XML's non-characters, everything else as written."""
    out = []
    for ch in value:
        if ch in ILLEGAL:
            out.append(chr(0x2400 + ord(ch)))
        elif ch in "\ufffe\uffff" or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


@pytest.mark.parametrize("engine", ENGINES)
def test_control_characters_in_names_are_written_visibly(tmp_path, capsys, engine):
    names = {f"C{i}": f"Name{ch}{i}" for i, ch in enumerate(ILLEGAL)}
    names |= {"ESC": "Müller \x1b[31mGmbH", "BEL": "Bel\x07l", "NUL": "Nu\x00ll",
              "LIT": "literal _x0041_ and _x005F_", "NONCHAR": "odd\uffffend"}
    sales = write_csv(tmp_path / "names.csv",
                      [[c, n, f"2025-03-{1 + i % 28:02d}", 10 + i]
                       for i, (c, n) in enumerate(names.items())])
    out = tmp_path / "names.xlsx"
    assert main(["report", str(sales), "-o", str(out), "--engine", engine]) == 0, \
        capsys.readouterr().err
    texts = cell_texts(out)
    assert "Bel\u2407l" in texts and "Nu\u2400ll" in texts
    assert "Müller \u241b[31mGmbH" in texts and "odd\ufffdend" in texts
    # a literal OOXML escape is stored escaped, so that Excel shows it as typed
    assert "literal _x005F_x0041_ and _x005F_x005F_" in texts
    for name in names.values():
        stored = [t for t in texts if unescape(t) == expected_shown(name)]
        assert stored, name  # on the customer sheets, as Excel decodes it
    for t in texts:
        assert not ILLEGAL_CHARACTERS_RE.search(t)
    assert read_summary(out).customers == len(names)


def test_a_control_character_in_an_id_is_refused_in_one_line(tmp_path):
    sales = write_csv(tmp_path / "ids.csv", [["C\x071", "A", "2025-03-01", 12],
                                             ["C2", "B", "2025-03-02", 13]])
    done = run_cli(["report", str(sales), "-o", str(tmp_path / "r.xlsx")])
    assert done.returncode == 1
    assert "control character (U+0007)" in one_line_error(done.stderr)
    assert not (tmp_path / "r.xlsx").exists()


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60))
def test_cell_text_is_what_excel_shows(value):
    stored = cell_text(value)
    assert not ILLEGAL_CHARACTERS_RE.search(stored)
    assert unescape(stored) == expected_shown(value)  # Excel decodes _xHHHH_ on reading
    WriteOnlyCell(Workbook(write_only=True).create_sheet(), value=stored)  # openpyxl takes it


def test_cell_text_longer_than_a_cell_is_cut_visibly():
    assert cell_text("x" * 40_000) == "x" * 32_766 + "…"
    assert cell_text("y" * 32_767) == "y" * 32_767


# --- 2. amounts at the limit: right figures or one line, never inf or a traceback ---

@pytest.mark.parametrize("engine", ENGINES)
def test_amounts_just_below_the_limit_add_up_without_overflow(tmp_path, capsys, engine):
    rows = [[f"C{i % 3}", "", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}", "999999999999.99"]
            for i in range(3000)]
    sales = write_csv(tmp_path / "max.csv", rows)
    assert main(["analyze", str(sales), "--engine", engine]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    total = float(re.search(r"total ([\d,.]+)", out).group(1).replace(",", ""))
    assert total == pytest.approx(3000 * 999999999999.99, rel=1e-14)  # float64's precision
    assert "inf" not in out and "nan" not in out
    report = tmp_path / "max.xlsx"
    assert main(["report", str(sales), "-o", str(report), "--engine", engine]) == 0
    assert read_summary(report).revenue == pytest.approx(3000 * 999999999999.99)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("amount", ["1e308", "1.7976931348623157e308", "1000000000000"])
def test_huge_amounts_are_one_line(tmp_path, engine, amount):
    sales = write_csv(tmp_path / "big.csv", [["C1", "", "2025-03-01", amount],
                                             ["C2", "", "2025-03-02", "12"]])
    done = run_cli(["report", str(sales), "-o", str(tmp_path / "r.xlsx"), "--engine", engine])
    assert done.returncode == 1, done.stderr
    line = one_line_error(done.stderr)
    assert line.startswith("xl-crm: big.csv: Amount")
    assert line.endswith(f"row 2: {amount!r} is too large: amounts must be below "
                         "1,000,000,000,000")
    assert list(tmp_path.iterdir()) == [sales]


# --- 3. signals: one line, the right exit status, nothing left behind ---

SIGNAL_EXIT = {"SIGINT": (130, "xl-crm: interrupted\n"), "SIGTERM": (143, "xl-crm: terminated\n"),
               "SIGHUP": (129, "xl-crm: terminated\n")}


def _default_signals() -> None:
    """In the child: every stop signal at its default, whatever the test runner set (a
    shell's background job ignores SIGINT, nohup ignores SIGHUP)."""
    for name in SIGNAL_EXIT:
        signal.signal(getattr(signal, name), signal.SIG_DFL)


@pytest.fixture(scope="module")
def medium_sales(tmp_path_factory) -> Path:
    """3,000 customers, 12,000 lines: a report that takes a few seconds to write."""
    rng = random.Random(15)
    rows = [[f"K{rng.randrange(3000):05d}", f"Firma {rng.randrange(10**6)}",
             f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
             f"{rng.randrange(100, 100000) / 100:.2f}"] for _ in range(12000)]
    return write_csv(tmp_path_factory.mktemp("medium") / "sales.csv", rows)


def _start(args: list[str], tmp_path: Path, **kw) -> tuple[subprocess.Popen, Path]:
    child_tmp = tmp_path / "tmp"
    child_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(child_tmp))
    proc = subprocess.Popen([*XL_CRM, *args], env=env, text=True, stdout=subprocess.PIPE,
                            preexec_fn=_default_signals, **kw)  # noqa: PLW1509
    return proc, child_tmp


def _wait_for(proc: subprocess.Popen, found, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not found():
        assert proc.poll() is None, "the run ended before the signal could be sent"
        assert time.monotonic() < end, "timed out waiting for the moment to send the signal"
        time.sleep(0.002)


def _sheet_files(tmp: Path) -> bool:
    """Whether openpyxl has a sheet file in the run's private folder (which may vanish)."""
    try:
        return any(f.name.startswith("openpyxl") for d in tmp.glob("xl-crm-*")
                   for f in d.iterdir())
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("phase", ["building", "saving"])
@pytest.mark.parametrize("name", list(SIGNAL_EXIT))
def test_a_signal_during_the_report_cleans_up(tmp_path, medium_sales, name, phase):
    folder = tmp_path / "out"
    folder.mkdir()
    report = folder / "report.xlsx"
    report.write_bytes(b"the previous report")  # an --overwrite run must keep it on a signal
    proc, child_tmp = _start(["report", str(medium_sales), "-o", str(report), "--overwrite"],
                             tmp_path, stderr=subprocess.PIPE)
    if phase == "building":  # openpyxl streams the sheets to temporary files in the run's
        # private folder in TMPDIR
        _wait_for(proc, lambda: _sheet_files(child_tmp))
    else:  # the workbook is being zipped into the temporary file beside the report
        _wait_for(proc, lambda: any(p.name.startswith(".report-") for p in folder.iterdir()))
    proc.send_signal(getattr(signal, name))
    out, err = proc.communicate(timeout=120)
    code, line = SIGNAL_EXIT[name]
    assert (proc.returncode, err) == (code, line)  # no "Exception ignored ...", no traceback
    assert out == ""
    assert [p.name for p in folder.iterdir()] == ["report.xlsx"]
    assert report.read_bytes() == b"the previous report"
    assert list(child_tmp.iterdir()) == []  # openpyxl's sheet files hold customer data



def test_a_signal_just_after_the_private_folder_is_made_removes_it(tmp_path, monkeypatch):
    """The window CI once hit: SIGTERM between mkdtemp and the folder's cleanup being set."""
    import tempfile as tempfile_module

    from xl_crm import cli

    made = []
    real_mkdtemp = tempfile_module.mkdtemp

    def mkdtemp_then_signal(*args, **kw):  # the real folder, then a real signal to us
        made.append(Path(real_mkdtemp(*args, **kw)))
        os.kill(os.getpid(), signal.SIGTERM)
        return str(made[-1])

    monkeypatch.setattr(tempfile_module, "tempdir", str(tmp_path))
    monkeypatch.setattr(tempfile_module, "mkdtemp", mkdtemp_then_signal)
    with (cli.stop_signals() as stops, pytest.raises(cli.Terminated),
          cli.private_tempdir(stops)):
        pytest.fail("the run must not start after the signal")
    assert made and not made[0].exists()
    assert tempfile_module.tempdir == str(tmp_path)


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory) -> Path:
    """3 million lines (about 90 MB) that DuckDB needs a few seconds to read."""
    rng = random.Random(3)
    block = "".join(f"K{rng.randrange(50000):05d},,2025-{rng.randrange(1, 13):02d}-"
                    f"{rng.randrange(1, 29):02d},{rng.randrange(100, 99999) / 100:.2f}\n"
                    for _ in range(10000))
    path = tmp_path_factory.mktemp("large") / "large.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Customer,Name,Date,Amount\n")
        for _ in range(300):
            fh.write(block)
    return path


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_while_duckdb_reads_gives_the_signal_status(tmp_path, large_csv, name):
    """The signal arrives inside DuckDB's query (DuckDB then raises its own error, which
    used to be reported as 'unexpected error: RuntimeError: Query interrupted', exit 1).
    stderr is a terminal here, so that the progress lines say when DuckDB starts."""
    master, slave = pty.openpty()
    proc, child_tmp = _start(["report", str(large_csv), "-o", str(tmp_path / "r.xlsx"),
                              "--engine", "duckdb"], tmp_path, stderr=slave)
    os.close(slave)
    said = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            said.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _wait_for(proc, lambda: b"with DuckDB ..." in said)
    time.sleep(0.5)  # into the query
    proc.send_signal(getattr(signal, name))
    out, _ = proc.communicate(timeout=120)
    reader.join(10)
    os.close(master)
    lines = bytes(said).decode().replace("\r\n", "\n").splitlines(keepends=True)
    code, line = SIGNAL_EXIT[name]
    assert proc.returncode == code, lines
    assert lines[-1] == line and all(x.startswith("[") for x in lines[:-1]), lines
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list(child_tmp.iterdir()) == []


def test_a_pipe_closed_by_the_reader_is_not_an_error_message(tmp_path):
    sales = write_csv(tmp_path / "s.csv", [["C1", "", "2025-03-01", "12"]])
    proc = subprocess.Popen([*XL_CRM, "analyze", str(sales)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # as `xl-crm analyze ... | head -0` does
    err = proc.stderr.read()
    proc.wait(60)
    assert proc.returncode == 1 and err == ""


# --- 4. outputs: names Excel opens, folders that exist, the user's permissions ---

@pytest.fixture
def small_sales(tmp_path) -> Path:
    return write_csv(tmp_path / "sales.csv", [["C1", "Ann", "2025-03-01", "12.50"],
                                              ["C2", "Bob", "2025-03-02", "13"]])


@pytest.mark.parametrize(("target", "message"), [
    ("out.csv", ("out.csv: the report is an Excel workbook; its name must end in .xlsx "
                "(not .csv)")),
    ("out.xlsm", ("out.xlsm: the report is an Excel workbook; its name must end in .xlsx "
                 "(not .xlsm)")),
    ("report", "report: the report is an Excel workbook; its name must end in .xlsx"),
    ("missing/out.xlsx", "folder {tmp}/missing does not exist"),
    ("afile/out.xlsx", ("{tmp}/afile is a file, not a folder, so out.xlsx cannot be written "
                       "there")),
    ("afile/deeper/out.xlsx", ("{tmp}/afile is a file, not a folder, so out.xlsx cannot be "
                              "written there")),
    ("adir", "{tmp}/adir is a folder; give a file name inside it"),
    ("sales.csv", ("sales.csv: the report is an Excel workbook; its name must end in .xlsx "
                  "(not .csv)")),
])
def test_bad_output_paths_are_one_line(tmp_path, small_sales, capsys, target, message):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    for extra in ([], ["--overwrite"]):
        assert main(["report", str(small_sales), "-o", str(tmp_path / target), *extra]) == 1
        err = capsys.readouterr().err
        assert one_line_error(err) == "xl-crm: " + message.format(tmp=tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_uppercase_suffix_is_an_xlsx_name(tmp_path, small_sales, capsys):
    assert main(["report", str(small_sales), "-o", str(tmp_path / "R.XLSX")]) == 0
    assert zipfile.is_zipfile(tmp_path / "R.XLSX")


@pytest.fixture
def umask():
    def set_mask(mask: int) -> None:
        os.umask(mask)
    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_new_outputs_follow_the_umask(tmp_path, small_sales, capsys, umask, mask):
    umask(mask)
    report = tmp_path / "r.xlsx"
    assert main(["report", str(small_sales), "-o", str(report), "--email", "a@example.com",
                 "--dry-run"]) == 0, capsys.readouterr().err
    for path in (report, tmp_path / "r.eml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_a_replaced_output_keeps_its_mode(tmp_path, small_sales, capsys, umask):
    umask(0o077)
    report = tmp_path / "r.xlsx"
    report.write_bytes(b"old")
    eml = tmp_path / "r.eml"
    eml.write_bytes(b"old")
    report.chmod(0o640)
    eml.chmod(0o604)
    assert main(["report", str(small_sales), "-o", str(report), "--overwrite",
                 "--email", "a@example.com", "--dry-run"]) == 0, capsys.readouterr().err
    assert zipfile.is_zipfile(report) and eml.read_bytes() != b"old"
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    assert stat.S_IMODE(eml.stat().st_mode) == 0o604


# --- 5. recipients add up over repeated flags ---

def _eml(path: Path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_repeated_recipient_flags_add_up(tmp_path, small_sales, capsys, monkeypatch):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    report = tmp_path / "r.xlsx"
    assert main(["report", str(small_sales), "-o", str(report),
                 "--email", "a@example.com", "--email", "b@example.com, c@example.com",
                 "--cc", "d@example.com", "--cc", "e@example.com", "f@example.com",
                 "--bcc", "g@example.com", "--bcc", "h@example.com", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(Bcc, not in the file: g@example.com, h@example.com)" in out
    message = _eml(tmp_path / "r.eml")
    assert message["To"] == "a@example.com, b@example.com, c@example.com"
    assert message["Cc"] == "d@example.com, e@example.com, f@example.com"
    # xl-crm email: --to repeated; an existing .eml is kept unless --overwrite
    args = ["email", str(report), "--to", "x@example.com", "--to", "y@example.com",
            "--dry-run"]
    assert main(args) == 1
    assert one_line_error(capsys.readouterr().err) == (
        f"xl-crm: not sent: {tmp_path / 'r.eml'} exists; pass --overwrite to replace it")
    assert _eml(tmp_path / "r.eml")["To"] == "a@example.com, b@example.com, c@example.com"
    assert main([*args, "--overwrite"]) == 0
    assert _eml(tmp_path / "r.eml")["To"] == "x@example.com, y@example.com"


def test_report_dry_run_keeps_an_existing_eml_unless_overwrite(tmp_path, small_sales, capsys,
                                                               monkeypatch):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    report, eml = tmp_path / "r.xlsx", tmp_path / "r.eml"
    eml.write_bytes(b"kept")
    args = ["report", str(small_sales), "-o", str(report), "--email", "a@example.com",
            "--dry-run"]
    assert main(args) == 1 and eml.read_bytes() == b"kept"
    assert "exists; pass --overwrite to replace it" in one_line_error(capsys.readouterr().err)
    assert main([*args, "--overwrite"]) == 0
    assert _eml(eml)["To"] == "a@example.com"


# --- 6. --columns: the user names the columns ---

GERMAN = ("Kunde", "Firma", "Datum", "Betrag, EUR")


@pytest.fixture
def german_sales(tmp_path) -> Path:
    rows = [[f"K{i % 7}", f"Firma {i % 7}", f"2025-{1 + i % 12:02d}-{1 + i % 27:02d}",
             f"{10 + i * 2.5:.2f}"] for i in range(60)]
    return write_csv(tmp_path / "umsatz.csv", rows, GERMAN)


def test_columns_name_german_headers_on_both_engines(tmp_path, german_sales, capsys):
    columns = ["--columns", "customer=Kunde,date=Datum", "--columns",
               "amount=Betrag, EUR,name=Firma"]
    outputs = []
    for engine in ENGINES:
        assert main(["analyze", str(german_sales), "--engine", engine, *columns]) == 0, \
            capsys.readouterr().err
        outputs.append(capsys.readouterr().out.splitlines()[1:])
    assert outputs[0] == outputs[1]
    assert "customers 7 (without a purchase: 0)" in outputs[0][2]
    assert "total 5,025.00" in outputs[0][2]
    report = tmp_path / "r.xlsx"
    assert main(["report", str(german_sales), "-o", str(report), "--engine", "duckdb",
                 *columns]) == 0
    assert "Firma 3" in cell_texts(report)
    # without the mapping: the message says how to give it, and the flag exists
    assert main(["analyze", str(german_sales)]) == 1
    assert "--columns customer=HEADER,date=HEADER,amount=HEADER" in capsys.readouterr().err


def test_parse_columns():
    assert parse_columns(["customer=Kunde, date = Datum", "amount=Betrag, EUR"]) == {
        "customer": "Kunde", "date": "Datum", "amount": "Betrag, EUR"}
    assert parse_columns([]) == {}


@pytest.mark.parametrize(("value", "message"), [
    ("customer", ("--columns: 'customer' is not role=HEADER (e.g. "
                 "customer=Kunde;date=Datum;amount=Betrag)")),
    ("customer=", ("--columns: 'customer=' is not role=HEADER (e.g. "
                  "customer=Kunde;date=Datum;amount=Betrag)")),
    ("=Kunde", ("--columns: '=Kunde' is not role=HEADER (e.g. "
               "customer=Kunde;date=Datum;amount=Betrag)")),
    ("kunde=Kunde", ("--columns: unknown role 'kunde'; roles are customer, name, date, "
                    "order_id, amount, cost, profit, quantity, region, product, rep")),
    ("customer=Kunde,customer=Firma", ("--columns: customer is given twice ('Kunde' and "
                                      "'Firma')")),
])
def test_bad_columns_are_one_line(german_sales, capsys, value, message):
    with pytest.raises(InputError, match=re.escape(message.split(": ", 1)[1])):
        parse_columns([value])
    for command in ("analyze", "report"):
        assert main([command, str(german_sales), "--columns", value]) == 1
        assert one_line_error(capsys.readouterr().err) == "xl-crm: " + message


def test_columns_naming_a_missing_header_is_one_line(german_sales, capsys):
    for engine in ENGINES:
        assert main(["analyze", str(german_sales), "--engine", engine, "--columns",
                     "customer=Kunde,date=Datum,amount=Preis"]) == 1
        err = one_line_error(capsys.readouterr().err)
        assert "the mapping names column 'Preis' for amount, but no header is called that" in err


# --- 7. known bad inputs never reach "unexpected error" ---

def _hostile_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name: (arguments, a part of the expected message)."""
    def csv_file(name: str, text: str) -> str:
        (tmp / name).write_text(text, encoding="utf-8")
        return str(tmp / name)

    head = "Customer,Date,Amount\n"
    (tmp / "folder.csv").mkdir()
    (tmp / "empty.xlsx").write_bytes(b"")
    (tmp / "garbage.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp / "garbage.parquet").write_bytes(b"PAR1 not really parquet")
    (tmp / "reports").write_text("a file where a folder should be")
    cases: dict[str, tuple[list[str], str]] = {
        "missing file": (["analyze", str(tmp / "nope.csv")], "not found"),
        "empty csv": (["analyze", csv_file("empty.csv", "")], "empty"),
        "header only": (["analyze", csv_file("header.csv", head)], "no data rows"),
        "folder as input": (["analyze", str(tmp / "folder.csv")], "holds no sales file"),
        "wrong suffix": (["analyze", csv_file("sales.txt", head + "C1,2025-03-01,1\n")],
                         "sales.txt"),
        "old excel suffix": (["analyze", csv_file("sales.xls", head)], "sales.xls"),
        "empty xlsx": (["analyze", str(tmp / "empty.xlsx")], "empty.xlsx"),
        "garbage xlsx": (["analyze", str(tmp / "garbage.xlsx")], "garbage.xlsx"),
        "garbage parquet": (["analyze", str(tmp / "garbage.parquet")], "garbage.parquet"),
        "text in a number column": (
            ["analyze", csv_file("text.csv", head + "C1,2025-03-01,12\nC2,2025-03-02,twelve\n")],
            "row 3: 'twelve' is not a number"),
        "blank required cell": (
            ["analyze", csv_file("blank.csv", head + "C1,2025-03-01,12\nC2,,13\n")],
            "row 3: is empty"),
        "ragged row": (
            ["analyze", csv_file("ragged.csv", head + "C1,2025-03-01,12\nC2,2025-03-02,1,2\n")],
            "has 4 cells but the header has 3"),
        "future date": (["analyze", csv_file("future.csv", head + "C1,2999-03-01,12\n")],
                        "is in the future"),
        "ancient date": (["analyze", csv_file("old.csv", head + "C1,1500-03-01,12\n")],
                         "before 1900-01-01"),
        "huge amount": (["analyze", csv_file("huge.csv", head + "C1,2025-03-01,1e308\n")],
                        "is too large"),
        "control character in an id": (
            ["analyze", csv_file("ctrl.csv", head + "C\x1b1,2025-03-01,12\n")], "U+001B"),
        "no recognised headers": (["analyze", csv_file("de.csv", "Kunde,Datum,Betrag\n")],
                                  "--columns"),
        "bad --columns": (["analyze", csv_file("ok.csv", head + "C1,2025-03-01,12\n"),
                           "--columns", "client=Kunde"], "unknown role"),
        "bad --as-of": (["analyze", str(tmp / "ok.csv"), "--as-of", "31/31/2025"], "as"),
        "bad --bins": (["analyze", str(tmp / "ok.csv"), "--bins", "99"], "bins"),
        "output .csv": (["report", str(tmp / "ok.csv"), "-o", str(tmp / "r.csv")], ".xlsx"),
        "output into a missing folder": (
            ["report", str(tmp / "ok.csv"), "-o", str(tmp / "no" / "r.xlsx")], "does not exist"),
        "output where a file is the folder": (
            ["report", str(tmp / "ok.csv"), "-o", str(tmp / "reports" / "r.xlsx")],
            "is a file, not a folder"),
        "output is a folder": (["report", str(tmp / "ok.csv"), "-o", str(tmp / "folder.csv")],
                               "is a folder"),
        "output is the input": (["report", str(tmp / "ok.csv"), "-o", str(tmp / "ok.csv")],
                                ".xlsx"),
        "email of a non-report": (["email", str(tmp / "garbage.xlsx"), "--to", "a@example.com",
                                   "--dry-run"], "garbage.xlsx"),
        "email of a missing report": (["email", str(tmp / "gone.xlsx"), "--to",
                                       "a@example.com", "--dry-run"], "not found"),
    }
    return cases


HOSTILE = ["missing file", "empty csv", "header only", "folder as input", "wrong suffix",
           "old excel suffix", "empty xlsx", "garbage xlsx", "garbage parquet",
           "text in a number column", "blank required cell", "ragged row", "future date",
           "ancient date", "huge amount", "control character in an id",
           "no recognised headers", "bad --columns", "bad --as-of", "bad --bins", "output .csv",
           "output into a missing folder", "output where a file is the folder",
           "output is a folder", "output is the input", "email of a non-report",
           "email of a missing report"]


def test_the_hostile_list_is_complete(tmp_path):
    assert sorted(_hostile_inputs(tmp_path)) == sorted(HOSTILE)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", HOSTILE)
def test_known_bad_inputs_are_one_line_never_unexpected(tmp_path, capsys, monkeypatch, case,
                                                        engine):
    monkeypatch.delenv("XL_CRM_SMTP_HOST", raising=False)
    args, part = _hostile_inputs(tmp_path)[case]
    if args[0] != "email":
        args = [*args, "--engine", engine]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(args) == 1, capsys.readouterr()
    line = one_line_error(capsys.readouterr().err)
    assert part in line, line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a user who is not root")
@pytest.mark.parametrize("engine", ENGINES)
def test_an_unreadable_file_is_one_line(tmp_path, capsys, engine):
    sales = write_csv(tmp_path / "locked.csv", [["C1", "", "2025-03-01", "12"]])
    sales.chmod(0)
    try:
        assert main(["analyze", str(sales), "--engine", engine]) == 1
        assert "locked.csv" in one_line_error(capsys.readouterr().err)
    finally:
        sales.chmod(0o600)


def test_a_clean_run_through_the_console_script_says_nothing_on_stderr(tmp_path):
    done = run_cli(["report", str(SAMPLE_ZH), "-o", str(tmp_path / "r.xlsx"), "--tiers",
                    "abc", "--lang", "zh", "--as-of", "2026-10-31"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_after_a_stop_a_half_written_zip_says_nothing_at_exit(monkeypatch, capsys):
    import zipfile

    from xl_crm import cli

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # restored afterwards
    assert cli._stopped([], KeyboardInterrupt()) == 130
    archive = zipfile.ZipFile(io.BytesIO(), "w")
    archive._writing = True  # as when a signal lands inside a member's close
    del archive  # its __del__ raises "Can't close the ZIP file ..." as an unraisable error
    gc.collect()
    assert reported == []
    assert capsys.readouterr().err == "xl-crm: interrupted\n"
