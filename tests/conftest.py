"""Shared fixtures: small hand-made sales tables and the shipped sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "workbooks" / "sample_sales.xlsx"
SAMPLE_ZH = ROOT / "workbooks" / "sample_sales_zh.xlsx"


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
