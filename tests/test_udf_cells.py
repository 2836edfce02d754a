"""What a worksheet function's cell shows in classic xlwings (Windows) and in xlwings Lite.

Classic xlwings is driven through its own code (tests/classic_xlwings_path.py: the real
decorators, VBA wrapper generator and ``call_udf``, with pywin32's COM error rule); Lite
by its rule that a registered function's return value is what the cell shows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xl_crm import cell_errors
from xl_crm.cell_errors import CellError
from xl_crm.core.errors import InputError
from xl_crm.udfs import CRM_ABC, CRM_RFM, CRM_STRATEGY

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def classic():
    proc = subprocess.run([sys.executable, str(HERE / "classic_xlwings_path.py")],
                          capture_output=True, text=True, cwd=HERE.parent, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_cell_shows_the_one_line_message_in_classic_xlwings(classic):
    assert classic["cells"] == {
        "bad amount": "amounts row 3: 'abc' is not a number",
        "good": [["Customer", "Value", "Share", "Cumulative share", "Tier"],
                 ["a", 15.0, 0.75, 0.75, "A"], ["b", 5.0, 0.25, 1.0, "C"]],
        "#N/A value": "values row 2: the cell shows #N/A; correct or clear it",
        "#DIV/0! as_of": "as_of: the cell shows #DIV/0!; correct or clear it",
        "a bug": ("unexpected error: ZeroDivisionError: float division by zero second line "
                  "(please report it)"),
        # the same error without xl_crm's decorator: what the first release showed
        "undecorated": classic["cells"]["undecorated"],
    }
    assert classic["cells"]["undecorated"].startswith(
        "Unexpected Python Error: Traceback (most recent call last):")


def test_every_vba_wrapper_puts_the_error_description_in_the_cell(classic):
    functions = re.findall(r"Function (CRM_\w+)\((.*?)\)\n(.*?)End Function", classic["vba"],
                           re.DOTALL)
    assert sorted(f[0] for f in functions) == sorted(classic["args"])
    for name, _, body in functions:
        assert "On Error GoTo failed" in body, name
        assert body.rstrip().endswith(f"failed:\n    {name} = Err.Description"), name


def test_every_argument_has_a_wizard_description_and_passes_cell_errors_as_text(classic):
    ranges = {"CRM_RFM": {"customers", "dates", "amounts"}, "CRM_RFM_SCORE": {"values"},
              "CRM_SEGMENT": {"r", "f", "m"}, "CRM_ABC": {"customers", "values"},
              "CRM_PYRAMID": {"customers", "values"}, "CRM_DWYER": set(), "CRM_CLV": set(),
              "CRM_LIFECYCLE": {"customers", "dates", "amounts"}, "CRM_STRATEGY": {"label"},
              "CRM_PREDICT": {"customers", "dates", "amounts"}}
    assert set(classic["args"]) == set(ranges)
    for name, args in classic["args"].items():
        for arg in args:
            where = f"{name}({arg['name']})"
            assert not arg["doc"].startswith("Positional argument"), where
            assert 20 <= len(arg["doc"]) <= 255, where  # xlwings' limit for a description
            assert arg["options"]["err_to_str"] is True, where
            assert (arg["options"].get("ndim") == 2) == (arg["name"] in ranges[name]), where


def test_a_cell_error_is_an_input_error_with_the_same_words():
    with pytest.raises(InputError) as err:
        CRM_ABC([["a"], ["b"]], [[1.0], ["x"]])
    assert type(err.value) is CellError
    assert (str(err.value), err.value.column, err.value.row) == (
        "values row 2: 'x' is not a number", "values", 2)
    assert err.value.description == str(err.value)  # what pywin32 hands to the cell


def test_a_bug_is_one_line_with_its_cause_kept(monkeypatch):
    from xl_crm import udfs

    def broken(*args, **kwargs):
        raise KeyError("tier")

    monkeypatch.setattr(udfs, "abc_tiers", broken)
    with pytest.raises(CellError) as err:
        CRM_ABC([["a"]], [[1.0]])
    assert str(err.value) == "unexpected error: KeyError: 'tier' (please report it)"
    assert isinstance(err.value.__cause__, KeyError)


def test_in_xlwings_lite_the_function_returns_the_message_as_the_cell_text(monkeypatch):
    monkeypatch.setattr(cell_errors, "IN_LITE", True)
    day = dt.datetime(2025, 3, 1)
    assert CRM_RFM([["a"], ["b"]], [[day], [day]], [[1.0], ["abc"]]) == \
        "amounts row 2: 'abc' is not a number"
    assert CRM_STRATEGY("#N/A") == "label: the cell shows #N/A; correct or clear it"
    assert CRM_STRATEGY("A").startswith("Tier A | Goal: ")  # a good call is unchanged
