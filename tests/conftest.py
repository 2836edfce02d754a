"""Shared fixtures: small hand-made sales tables and the shipped sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "xl_crm" / "data" / "sample_sales.xlsx"
SAMPLE_ZH = ROOT / "xl_crm" / "data" / "sample_sales_zh.xlsx"

# No per-example deadline: timings are the benchmarks' job, and on a loaded CI machine a
# first call that imports a module can take 0.4 s (a Flaky failure, not a finding).
settings.register_profile("xl_crm", deadline=None)
settings.load_profile("xl_crm")


def frame(rows: list[tuple], columns=("Customer", "Date", "Amount")) -> pd.DataFrame:
    """A sales DataFrame from tuples (dates as ISO text are parsed by the reader)."""
    return pd.DataFrame(rows, columns=list(columns))


@pytest.fixture(scope="session")
def sample_sales():
    from xl_crm.files import read_sales

    return read_sales(SAMPLE, today=dt.date(2026, 11, 22))


@pytest.fixture(scope="session")
def sample_analysis(sample_sales):
    from xl_crm.core.analysis import analyze

    return analyze(sample_sales)


@pytest.fixture(scope="session")
def sample_report(sample_analysis, tmp_path_factory) -> Path:
    """The report of the sample with the default options, written once per test run."""
    from xl_crm.report import write_report

    return write_report(sample_analysis, tmp_path_factory.mktemp("sample-report") / "report.xlsx")


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A workbook like the shipped sample (the same seeded model, columns and layout)
    with 300 customers, for tests of what is done around a report (splitting, mailing,
    files) where the sample's 3,000 customers would only cost time."""
    from workbooks.generate_sample import EN_WIDTHS, generate_transactions, write_workbook

    path = tmp_path_factory.mktemp("small-sample") / "sales.xlsx"
    write_workbook(generate_transactions(n_customers=300), path, "Sales", EN_WIDTHS)
    return path


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on loopback (aiosmtpd) and the mail variables pointing at it.

    Yields the handler, which records every message; it refuses nobody@example.com.
    """
    from .test_mail import Recorder, start

    handler = Recorder(refuse=("nobody@example.com",))
    controller = start(handler)
    monkeypatch.setenv("XL_CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("XL_CRM_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("XL_CRM_SMTP_SECURITY", "none")
    monkeypatch.setenv("XL_CRM_MAIL_FROM", "Reports <reports@example.com>")
    for var in ("XL_CRM_SMTP_USER", "XL_CRM_SMTP_PASSWORD", "XL_CRM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    yield handler
    controller.stop()
