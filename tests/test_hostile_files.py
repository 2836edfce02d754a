"""Hostile sales files (issue 15): each is read right or refused with one exact line."""

from __future__ import annotations

import pytest

from xl_crm.core.errors import InputError
from xl_crm.files import csv_encoding

TABLE = "Customer,Date,Amount\nMüller,2025-03-01,12.50\nZoë,2025-03-02,3\n"
CHINESE = "客户,日期,金额\n张三,2025-03-01,12.50\n李四,2025-03-02,3\n"


@pytest.mark.parametrize(("text", "codec", "expected"), [
    (TABLE, "utf-8", "utf-8"),
    (TABLE, "utf-8-sig", "utf-8-sig"),
    (TABLE, "utf-16", "utf-16"),
    (TABLE, "utf-16-le", "utf-16-le"),
    (TABLE, "utf-16-be", "utf-16-be"),
    (TABLE, "cp1252", "cp1252"),
    (CHINESE, "gb18030", "gb18030"),
    (CHINESE, "utf-16-le", "utf-16-le"),
    ("Customer,Date,Amount\nC1,2025-03-01,1\n", "ascii", "utf-8"),
])
def test_csv_encoding_strict_rules_first(text, codec, expected):
    assert csv_encoding(text.encode(codec)) == expected


def test_csv_encoding_accepts_a_character_cut_at_the_end_of_the_head():
    assert csv_encoding(CHINESE.encode("utf-8")[:-2] + "张".encode()[:2]) == "utf-8"


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe\x00\x00C\x00\x00\x00", "is UTF-32 text; save it as CSV UTF-8"),
    (b"C,D\n\x00\x00\x00x\x81\n", "holds NUL bytes but is not UTF-16 text; save it as CSV UTF-8"),
])
def test_csv_encoding_refuses_in_one_line(raw, message):
    with pytest.raises(InputError) as err:
        csv_encoding(raw)
    assert str(err.value) == message
