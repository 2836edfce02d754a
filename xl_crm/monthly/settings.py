"""The button workbook's *Settings* sheet (or *设置*): two columns, setting and value, under
a header row, read by the options table (:data:`xl_crm.options.OPTIONS`) into
:class:`Settings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.analysis import Options
from ..core.errors import InputError
from ..options import OPTIONS, SHEET_OPTIONS, analysis_options, parse_option

SETTINGS_SHEETS = ("settings", "设置")


@dataclass
class Settings:
    """The Settings sheet, parsed and checked: one field per sheet option of
    :data:`xl_crm.options.OPTIONS` (names, defaults, rules and meanings are there)."""

    sales_sheet: str = OPTIONS["sales_sheet"].default
    as_of: object = OPTIONS["as_of"].default
    bins: int = OPTIONS["bins"].default
    binning: str = OPTIONS["binning"].default
    r_thresholds: tuple[float, ...] = OPTIONS["r_thresholds"].default
    f_thresholds: tuple[float, ...] = OPTIONS["f_thresholds"].default
    m_thresholds: tuple[float, ...] = OPTIONS["m_thresholds"].default
    scheme: str = OPTIONS["scheme"].default
    a_cut: float = OPTIONS["a_cut"].default
    b_cut: float = OPTIONS["b_cut"].default
    pyramid_shares: tuple[float, ...] = OPTIONS["pyramid_shares"].default
    compare: str = OPTIONS["compare"].default
    currency: str = OPTIONS["currency"].default
    columns: dict[str, str] = field(default_factory=dict)
    language: str = OPTIONS["language"].default
    save_report: bool = OPTIONS["save_report"].default
    recipients: tuple[str, ...] = OPTIONS["recipients"].default
    cc: tuple[str, ...] = OPTIONS["cc"].default
    split_by: str = OPTIONS["split_by"].default

    @property
    def thresholds(self) -> dict[str, tuple[float, ...]]:
        """The fixed-binning edges given, by measure."""
        return analysis_options(self._values()).thresholds or {}

    def _values(self) -> dict[str, object]:
        return {o.name: getattr(self, o.name) for o in SHEET_OPTIONS}

    def options(self) -> Options:
        """Analysis options for these settings."""
        return analysis_options(self._values())


def read_settings(rows: Sequence[Sequence[object]] | None, first_row: int = 1) -> Settings:
    """Settings from the Settings sheet's values (2-D); missing names keep their default.

    An unknown setting name or a bad value is an error naming the Settings row
    (``first_row`` is the sheet row of ``rows[0]``).
    """
    settings = Settings()
    for i, row in enumerate(rows or [], start=first_row):
        cells = list(row) + [None, None]
        name = str(cells[0] or "").strip().lower().replace(" ", "_")
        if not name or name in ("setting", "设置项"):
            continue
        if name not in OPTIONS or not OPTIONS[name].sheet:
            raise InputError(f"unknown setting {cells[0]!r}; the settings are "
                             f"{', '.join(o.name for o in SHEET_OPTIONS)}", "Settings", i)
        value = cells[1]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            setattr(settings, name, parse_option(name, value))
        except InputError as err:
            raise InputError(err.reason, "Settings", i) from None
    return settings
