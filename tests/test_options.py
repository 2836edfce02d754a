"""One table of options (xl_crm.options): the CLI flags, the Settings sheet, the worksheet
functions' defaults, the analysis defaults and the README all agree with it."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_crm import udfs
from xl_crm.cli import build_parser, main
from xl_crm.core.analysis import Options
from xl_crm.core.columns import ROLES
from xl_crm.core.errors import InputError
from xl_crm.monthly import read_settings
from xl_crm.options import (
    OPTIONS,
    SHEET_OPTIONS,
    analysis_options,
    markdown_table,
    parse_columns,
    parse_option,
    parse_shares,
    parse_thresholds,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_analysis_defaults_are_the_tables():
    defaults = {f.name: f.default for f in dataclasses.fields(Options)
                if f.default is not dataclasses.MISSING}
    for option in OPTIONS.values():
        if option.analysis and not option.name.endswith("_thresholds"):
            assert defaults[option.name] == option.default, option.name
    assert analysis_options({}) == Options()


def test_the_worksheet_functions_defaults_are_the_tables():
    def default(func, name):
        return inspect.signature(func).parameters[name].default

    for func in (udfs.CRM_RFM, udfs.CRM_RFM_SCORE):
        assert default(func, "bins") == OPTIONS["bins"].default
    for func in (udfs.CRM_RFM, udfs.CRM_SEGMENT):
        assert default(func, "scheme") == OPTIONS["scheme"].default
    for name in ("a_cut", "b_cut"):
        assert default(udfs.CRM_ABC, name) == OPTIONS[name].default
    assert tuple(default(udfs.CRM_PYRAMID, n) for n in ("vip", "major", "ordinary")) == \
        OPTIONS["pyramid_shares"].default


def _flags(parser, command):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {flag: action for action in sub._actions for flag in action.option_strings}


def test_every_command_line_option_is_a_flag_with_the_tables_help():
    parser = build_parser()
    for command in ("report", "analyze"):
        flags = _flags(parser, command)
        for option in OPTIONS.values():
            if option.cli and (command == "report" or option.name != "language"):
                assert option.cli_flag in flags, (command, option.name)
                assert option.help in flags[option.cli_flag].help, (command, option.name)


def test_the_readme_table_is_the_tables():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- options:.*?-->\n(.*?)\n<!-- /options -->", readme, re.DOTALL)
    assert block, "README has no options block"
    assert block.group(1) == markdown_table(), "run: python -m xl_crm.options"


def test_the_command_line_and_the_settings_sheet_give_the_same_analysis(tmp_path):
    """Hand-computed ABC with other cut-offs: values 50, 30, 20 (shares .5, .3, .2) with
    a_cut 0.5 and b_cut 0.9 are A, B, C; with the defaults (0.8, 0.95) A, A, C (the
    cumulative share 1.0 of c is above 0.95)."""
    from xl_crm.cli import _options
    from xl_crm.engines import analyze_path

    sales = tmp_path / "s.csv"
    sales.write_text("Customer,Date,Amount\na,2025-03-01,50\nb,2025-03-02,30\n"
                     "c,2025-03-03,20\n")
    args = build_parser().parse_args(["analyze", str(sales), "--a-cut", "0.5",
                                      "--b-cut", "0.9", "--pyramid-shares", "0.3;0.3;0.3"])
    from_cli = _options(args)
    from_sheet = read_settings([["a_cut", 0.5], ["b_cut", "0.9"],
                                ["pyramid_shares", "0.3;0.3;0.3"]]).options()
    assert from_cli == from_sheet
    tiers = analyze_path(sales, from_cli).customers.set_index("customer")
    assert tiers["abc_tier"].astype(str).to_dict() == {"a": "A", "b": "B", "c": "C"}
    assert tiers["pyramid_tier"].astype(str).to_dict() == {"a": "VIP", "b": "Major",
                                                           "c": "Ordinary"}
    default = analyze_path(sales).customers.set_index("customer")
    assert default["abc_tier"].astype(str).to_dict() == {"a": "A", "b": "A", "c": "C"}


def test_fixed_binning_from_the_command_line(tmp_path):
    from xl_crm.cli import _options

    args = build_parser().parse_args(["analyze", "x.csv", "--binning", "fixed",
                                      "--r-thresholds", "30;60", "--f-thresholds", "2,5"])
    options = _options(args)
    assert (options.binning, options.thresholds) == (
        "fixed", {"recency": (30.0, 60.0), "frequency": (2.0, 5.0)})


@pytest.mark.parametrize(("flags", "message"), [
    (["--a-cut", "1.5"], "--a-cut: must be a fraction, e.g. 0.8 for 80%"),
    (["--b-cut", "x"], "--b-cut: 'x' is not a number"),
    (["--bins", "99"], "--bins: must be a whole number from 2 to 9 (scores per RFM measure)"),
    (["--binning", "tertile"], "--binning: must be one of quantile, nested, fixed"),
    (["--r-thresholds", "60;30"], ("--r-thresholds: must rise from left to right, e.g. "
                                  "30;60;90;180")),
    (["--pyramid-shares", "0.5;0.5;0.5"], ("--pyramid-shares: must be three fractions adding "
                                          "up to at most 1, e.g. 0.01;0.04;0.15")),
    (["--as-of", "soon"], "--as-of: 'soon' is not a date"),
])
def test_a_bad_flag_is_one_line_naming_it(tmp_path, capsys, flags, message):
    sales = tmp_path / "s.csv"
    sales.write_text("Customer,Date,Amount\na,2025-03-01,50\n")
    assert main(["analyze", str(sales), *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xl-crm: " + message), err
    assert "\n" not in err


def test_a_bad_setting_names_its_row_with_the_same_rule():
    with pytest.raises(InputError) as err:
        read_settings([["Setting", "Value"], ["a_cut", 1.5]])
    assert str(err.value) == "Settings row 2: a_cut = 1.5: must be a fraction, e.g. 0.8 for 80%"
    assert [o.name for o in SHEET_OPTIONS] == [o.name for o in OPTIONS.values() if o.sheet]


# --- property tests of the parsers ----------------------------------------------------

header = st.text(st.characters(blacklist_characters=";,=", blacklist_categories=("Cc", "Cs")),
                 min_size=1, max_size=12).filter(lambda h: h.strip() == h and h)


@given(st.dictionaries(st.sampled_from(ROLES), header, min_size=1), st.sampled_from("; ,"))
def test_columns_round_trip(mapping, separator):
    text = (separator if separator != " " else ", ").join(f"{r}={h}" for r, h in mapping.items())
    assert parse_columns(text) == mapping


@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=8, unique=True))
def test_thresholds_round_trip(edges):
    edges = sorted(edges)
    assert parse_thresholds(";".join(map(str, edges))) == tuple(float(e) for e in edges)
    if len(edges) > 1:
        with pytest.raises(ValueError, match="must rise"):
            parse_thresholds(";".join(map(str, reversed(edges))))


@given(st.lists(st.floats(0.001, 0.33), min_size=3, max_size=3))
def test_pyramid_shares_of_three_fractions(shares):
    assert parse_shares(";".join(repr(s) for s in shares)) == tuple(shares)


@given(st.one_of(st.text(max_size=8), st.floats(allow_nan=True), st.booleans(),
                 st.integers(-100, 100)))
def test_every_parser_gives_a_value_or_a_one_line_rule(value):
    for name in OPTIONS:
        try:
            parse_option(name, value)
        except InputError as err:
            assert str(err).startswith(f"{name} = ") and "\n" not in str(err)


@pytest.mark.parametrize("value", ["~0", "~no_such_user_xl_crm/actions.csv"])
def test_a_home_of_an_unknown_user_is_a_file_not_found(value):
    # hypothesis found '~0': pathlib's expanduser raised RuntimeError (a traceback)
    with pytest.raises(InputError, match=r"^actions = .*file not found: ~"):
        parse_option("actions", value)


@pytest.mark.parametrize("value", ["0\n0", "a\rb.csv", "x\u2028y", "tab\there"])
def test_a_path_with_a_line_break_is_named_on_one_line(value):
    # CI found '0\n0' (hypothesis): "file not found: 0" and a second line "0".
    with pytest.raises(InputError) as err:
        parse_option("actions", value)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)
    assert "file not found: " + repr(value) in str(err.value)


def test_an_int_beyond_a_float_is_refused_by_the_option_rules():
    # only the Python API can hand one over; float() of it raises OverflowError
    from xl_crm.options import parse_bins, parse_fraction

    with pytest.raises(ValueError, match="must be a whole number from 2 to 9"):
        parse_bins(10**400)
    with pytest.raises(ValueError, match=r"^10000+\.\.\. is too large$"):
        parse_fraction(10**400)
