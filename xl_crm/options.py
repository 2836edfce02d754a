"""The options a user can set, in one table: the command line, the Settings sheet and the
README are built from it, and a test checks the worksheet functions' defaults against it.

Each :class:`Option` says its name (the Settings row; ``--name-with-dashes`` on the command
line unless ``flag`` says otherwise), its default, the parser that checks a value (a cell
or the text of a flag) and says the rule when it fails, a one-line help with units and
default, and where it is exposed. The method defaults themselves live with the methods
(``xl_crm.core.tiers.A_CUT``, ``PYRAMID_SHARES``, ``xl_crm.core.rfm.DEFAULT_BINS``...);
this table only points at them.

To change an option: edit its row here; the CLI flag, the Settings sheet
(``python workbooks/build_macro_workbook.py``) and the README table
(``python -m xl_crm.options``) follow.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .core.columns import ROLES
from .core.constants import (
    A_CUT,
    B_CUT,
    BINNINGS,
    DEFAULT_BINS,
    DEFAULT_SCHEME,
    LANGS,
    MAX_BINS,
    MIN_BINS,
    PERIODS,
    PYRAMID_SHARES,
    SCHEMES,
)
from .core.errors import InputError, show, show_path, user_path

if TYPE_CHECKING:  # the analysis stack (pandas) is imported when options are used
    from .core.analysis import Options

_COLUMN_ITEMS = re.compile(r";|,(?=[^,;=]*=)")  # ; or a comma that starts a new role=HEADER
YES, NO = ("yes", "true", "1", "是"), ("no", "false", "0", "否")
MEASURE_OF = {"r_thresholds": "recency", "f_thresholds": "frequency",
              "m_thresholds": "monetary"}


@dataclass(frozen=True)
class Option:
    """One option: see the module docstring."""

    name: str
    default: object
    parse: Callable[[object], object]
    help: str
    cli: bool = True
    sheet: bool = True
    analysis: bool = True  # an xl_crm.core.analysis.Options field (else the adapter's own)
    flag: str | None = None  # the command-line flag when it is not --name-with-dashes

    @property
    def cli_flag(self) -> str:
        """The command-line flag."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def cell_default(self) -> object:
        """The default as the Settings sheet holds it: a number, or text."""
        plain = isinstance(self.default, int | float) and not isinstance(self.default, bool)
        return self.default if plain else self.shown_default

    @property
    def shown_default(self) -> str:
        """The default as a user would type it (empty when there is none)."""
        return _typed(self.default)


def _typed(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ";".join(_typed(v) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


# --- parsers: a cell value or a flag's text in, the checked value out; ValueError says
# the rule ------------------------------------------------------------------------------


def _text(value: object) -> str:
    return str(value).strip()


def parse_bins(value: object) -> int:
    """A whole number 2..9 (text such as "5" too); inf, nan, 5.5, "five", -1, TRUE and
    1e400 are refused with one rule."""
    rule = f"must be a whole number from {MIN_BINS} to {MAX_BINS} (scores per RFM measure)"
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not (math.isfinite(number) and number.is_integer()):
        raise ValueError(rule)
    if not MIN_BINS <= number <= MAX_BINS:
        raise ValueError(rule)
    return int(number)


def _choice(allowed: tuple[str, ...]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        word = str(value).strip().lower()
        if word not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return word

    return parse


def _split_by(value: object) -> str:
    """"" (no split), "region" or "rep" (also 地区, 销售代表)."""
    word = str(value).strip().lower()
    word = {"地区": "region", "区域": "region", "销售代表": "rep", "sales rep": "rep"}.get(word, word)
    if word not in ("", "region", "rep"):
        raise ValueError("must be region, rep, or empty")
    return word


def _number(value: object) -> float:
    try:
        number = math.nan if isinstance(value, bool) else float(
            str(value).strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond a float (Python API)
        raise ValueError(f"{show(value)} is too large") from None
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise ValueError(f"{show(value)} is not a number") from None
    if math.isinf(number):
        raise ValueError("must be a finite number")
    return number


def parse_fraction(value: object) -> float:
    """A share as a fraction above 0 and at most 1 (0.8 = 80%)."""
    number = _number(value)
    if not 0 < number <= 1:
        raise ValueError("must be a fraction, e.g. 0.8 for 80%")
    return number


def _list(value: object) -> list[str]:
    """Items separated by ``;`` (or ``,`` when there is no ``;``)."""
    text = str(value)
    return [p.strip() for p in text.split(";" if ";" in text else ",") if p.strip()]


def parse_thresholds(value: object) -> tuple[float, ...]:
    """Rising bin edges for fixed binning, e.g. ``30;60;90;180``."""
    edges = tuple(_number(p) for p in _list(value))
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError("must rise from left to right, e.g. 30;60;90;180")
    return edges


def parse_shares(value: object) -> tuple[float, ...]:
    """The pyramid's head-count shares of VIP, Major and Ordinary, e.g. ``0.01;0.04;0.15``."""
    shares = tuple(parse_fraction(p) for p in _list(value))
    if len(shares) != 3 or sum(shares) > 1 + 1e-12:
        raise ValueError("must be three fractions adding up to at most 1, e.g. "
                         "0.01;0.04;0.15")
    return shares


def parse_yes_no(value: object) -> bool:
    word = str(value).strip().lower()
    if word not in YES + NO:
        raise ValueError("must be yes or no")
    return word in YES


def parse_addresses(value: object) -> tuple[str, ...]:
    """Addresses separated by ``;`` or ``,`` (each is checked when mail is sent)."""
    return tuple(p.strip() for p in str(value).replace(",", ";").split(";") if p.strip())


def parse_action_file(value: object) -> tuple[tuple[str, ...], ...] | None:
    """A CSV file (UTF-8) holding an action table like ``xl_crm/data/actions.csv``, read
    into rows and checked (:func:`xl_crm.core.actions.load_actions`); empty: the shipped
    table."""
    import csv

    from .core.actions import load_actions

    name = str(value).strip()
    if not name:
        return None
    path = user_path(name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"file not found: {show_path(path)}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{show_path(path.name)} is not UTF-8 text; save the table as CSV UTF-8") \
            from None
    except OSError as err:
        raise ValueError(f"{show_path(path.name)}: {err.strerror or err}") from None
    rows = tuple(tuple(r) for r in csv.reader(text.splitlines()) if any(c.strip() for c in r))
    try:
        load_actions(rows)
    except InputError as err:
        raise ValueError(f"{show_path(path.name)}: {err}") from None
    return rows


def parse_columns(value: object) -> dict[str, str]:
    """``role=HEADER`` items for headers the synonyms miss, e.g.
    ``customer=Kunde;date=Datum;amount=Betrag``. Items are separated by ``;``, or by a
    comma when ``role=`` follows it, so a header may hold commas (``amount=Betrag, EUR``).
    An unknown role, an item that is not role=HEADER and a role given twice with different
    headers are refused."""
    mapping: dict[str, str] = {}
    for item in _COLUMN_ITEMS.split(str(value)):
        if not item.strip():
            continue
        role, sep, header = (part.strip() for part in item.partition("="))
        if not (sep and role and header):
            raise ValueError(f"{show(item.strip())} is not role=HEADER (e.g. "
                             "customer=Kunde;date=Datum;amount=Betrag)")
        role = role.lower()
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if mapping.get(role, header) != header:
            raise ValueError(f"{role} is given twice ({mapping[role]!r} and {header!r})")
        mapping[role] = header
    return mapping


def _date(value: object):
    from .core.rfm import to_timestamp

    try:
        return to_timestamp(value, "as_of")
    except InputError as err:
        raise ValueError(err.reason) from None


OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("sales_sheet", "", _text, "sheet with the sales table (empty: Sales / 销售, "
           "else the active sheet; on the command line: the first sheet)", flag="--sheet",
           analysis=False),
    Option("as_of", None, _date, "analysis date, e.g. 2026-10-31 (empty: the latest "
           "purchase date)"),
    Option("bins", DEFAULT_BINS, parse_bins, f"scores per RFM measure, 2 to 9 (default "
           f"{DEFAULT_BINS})"),
    Option("binning", BINNINGS[0], _choice(BINNINGS), "quantile (shared ties), nested, or "
           "fixed (edges from r/f/m_thresholds)"),
    Option("r_thresholds", (), parse_thresholds, "fixed binning: recency in days, e.g. "
           "30;60;90;180 (0-30 days scores 5)"),
    Option("f_thresholds", (), parse_thresholds, "fixed binning: purchases, e.g. 2;3;5;10 "
           "(10 or more scores 5)"),
    Option("m_thresholds", (), parse_thresholds, "fixed binning: net sales in currency, "
           "e.g. 100;500;1000;5000"),
    Option("scheme", DEFAULT_SCHEME, _choice(SCHEMES), "segment scheme: value8 (the eight "
           "value classes on raw measures), named, or value8-score (on scores)"),
    Option("a_cut", A_CUT, parse_fraction, f"ABC: cumulative share of value that closes "
           f"tier A, a fraction (default {A_CUT})"),
    Option("b_cut", B_CUT, parse_fraction, f"ABC: cumulative share of value that closes "
           f"tier B, a fraction (default {B_CUT})"),
    Option("pyramid_shares", PYRAMID_SHARES, parse_shares, "pyramid: head-count shares of "
           "VIP, Major and Ordinary, fractions (default " + _typed(PYRAMID_SHARES) + ")"),
    Option("currency", "", _text, "currency shown on every money header, e.g. EUR, USD "
           "or ¥ (empty: none; amounts are never converted)"),
    Option("compare", PERIODS[0], _choice(PERIODS), "change figures against the previous "
           "month end (month), 7 days earlier (week), or none"),
    Option("actions", None, parse_action_file, "a CSV action table (UTF-8) replacing the "
           "shipped one, xl_crm/data/actions.csv: rule, conditions, priority, texts",
           sheet=False),
    Option("columns", {}, parse_columns, "headers the synonyms miss, e.g. customer=Kunde;"
           "date=Datum;amount=Betrag; roles: " + ", ".join(ROLES), analysis=False),
    Option("language", LANGS[0], _choice(LANGS), "en or zh: the report, the result sheets "
           "and the email", flag="--lang", analysis=False),
    Option("save_report", True, parse_yes_no, "button: save the formatted report in "
           "reports/ next to the workbook (yes or no)", cli=False, analysis=False),
    Option("recipients", (), parse_addresses, "button: email addresses for the report, "
           "separated by ; or , (command line: --email)", cli=False, analysis=False),
    Option("cc", (), parse_addresses, "button: copy recipients, separated by ; or , "
           "(command line: --cc)", cli=False, analysis=False),
    Option("split_by", "", _split_by, "button: region or rep: also one report per manager "
           "of the Managers sheet, with only their customers (empty: none; command line: "
           "--split-by)", cli=False, analysis=False),
)}
SHEET_OPTIONS = tuple(o for o in OPTIONS.values() if o.sheet)


def parse_option(name: str, value: object) -> object:
    """``value`` checked by option ``name``'s parser; a bad value is an InputError naming
    the option (``a_cut = 1.5: must be a fraction, e.g. 0.8 for 80%``)."""
    try:
        return OPTIONS[name].parse(value)
    except ValueError as err:
        raise InputError(f"{name} = {show(value)}: {err}") from None


def analysis_options(values: Mapping[str, object]) -> Options:
    """The analysis :class:`Options` for parsed option values (names of :data:`OPTIONS`;
    missing ones keep their defaults). The three threshold options make one mapping."""
    from .core.analysis import Options

    fields = {n: v for n, v in values.items() if OPTIONS[n].analysis and n not in MEASURE_OF}
    thresholds = {MEASURE_OF[n]: v for n, v in values.items() if n in MEASURE_OF and v}
    return Options(**fields, thresholds=thresholds or None)


def markdown_table() -> str:
    """The README's options table."""
    rows = ["| setting | command line | default | meaning |", "|---|---|---|---|"]
    for o in OPTIONS.values():
        where = f"`{o.cli_flag}`" if o.cli else "-"
        name = f"`{o.name}`" if o.sheet else "-"
        default = f"`{o.shown_default}`" if o.shown_default else ""
        rows.append(f"| {name} | {where} | {default} | {o.help.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
