"""The Notes view: the run's parameters, what was measured and assumed, what was skipped,
as (item, value) rows in the reader's language (English or Chinese, from
``data/labels.csv``, keys ``note.*``). Pure data; the report renders it."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from . import __version__
from .core.analysis import Analysis
from .decisions import comparison_note, data_warnings, history_note, predicted_notes
from .i18n import text

SOURCE_WORDS = ("measured", "assumed", "given")  # CLV input sources with a label (clv.*)


def split_note(title: str, rows: int, names: Sequence[str], lang: str) -> str:
    """A sheet continued on others (Excel's row limit): "Tier C: 1,200,000 rows on 2
    sheets (Tier C, Tier C (2))"."""
    return text("note.split.value", lang, title=title, rows=f"{rows:,}", sheets=len(names),
                names=", ".join(names))


def notes(analysis: Analysis, split_notes: Sequence[str] = (),
          lang: str = "en") -> list[tuple[str, str]]:
    """Every note of a run as (item, value), in ``lang``; ``split_notes`` from
    :func:`split_note`."""
    log, o = analysis.log, analysis.options

    def t(key: str, **fields: object) -> str:
        return text(key, lang, **fields)

    def listed(rows: Sequence[int], key: str) -> str:
        shown = ", ".join(str(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
        return f" {t(key, rows=shown)}" if rows else ""

    blank, late = log["blank_rows"], log["rows_after_as_of"]
    history = history_note(analysis, lang)
    how = t("note.as_of.given") if log["as_of_source"] == "given" else t("note.as_of.latest")
    scheme = o.scheme if isinstance(o.scheme, str) else t("note.scheme.user")
    tol = f"{o.lifecycle.trend_tolerance:.0%}"
    items = [
        (t("note.version"), __version__),
        (t("note.source"), str(log["source"])),
        (t("note.columns"), ", ".join(f"{role}: {h}" for role, h in log["columns"].items())),
        (t("note.rows_read"), f"{log['rows_read']:,}"),
        *([(t("history.title"), history)] if history else []),
        (t("note.blank"), f"{len(blank)}{listed(blank, 'note.rows')}"),
        (t("note.late"), f"{late}" + (listed(log["rows_after_as_of_first"], "note.first_rows")
                                      if late else "")),
        (t("note.as_of"), f"{log['as_of']} ({how})"),
        (t("note.period"), t("note.period.value", start=log["first_date"], end=log["as_of"])),
        (t("note.customers"), t("note.customers.value", count=f"{log['customers']:,}",
                                without=log["customers_without_purchase"])),
        (t("note.value"), t("note.value.value",
                            basis=t(f"mail.basis.{analysis.value_basis}"))),
        (t("note.rfm"), t("note.rfm.value", bins=o.bins, binning=t(f"note.binning.{o.binning}"),
                          ties=t("note.rfm.ties") if o.binning == "quantile" else "",
                          monetary=t(f"note.monetary.{o.monetary}"))),
        (t("note.thresholds"), _thresholds(analysis.thresholds)),
        (t("note.scheme"), f"{scheme}; {_segment_rule(log, o.scheme, lang)}"),
        (t("note.abc"), t("note.abc.value", a=f"{o.a_cut:.0%}", b=f"{o.b_cut:.0%}")),
        (t("note.pyramid"), t("note.pyramid.value",
                              shares=", ".join(f"{s:.0%}" for s in o.pyramid_shares))),
        (t("note.lifecycle"), t("note.lifecycle.value", lost=o.lifecycle.lost_days,
                                new=o.lifecycle.new_days, gap=f"{o.lifecycle.gap_factor:g}",
                                tol=tol)),
        (t("note.matrix"), t("note.matrix.value", days=o.current_days,
                             current=f"{analysis.matrix_thresholds['current_threshold']:,.2f}",
                             potential=f"{analysis.matrix_thresholds['potential_threshold']:,.2f}")),
        (t("note.actions"), t("note.actions.value", table=t(
            "note.actions.shipped" if o.actions is None else "note.actions.user"))),
        (t("note.compare"), comparison_note(analysis, lang)),
    ]
    for group, inputs in analysis.clv.items():
        parts = []
        for k in ("group_size", "retention", "orders", "order_value", "cost_rate", "interest"):
            source = inputs.sources[k]
            parts.append(f"{k} {t(f'clv.{source}') if source in SOURCE_WORDS else source}")
        items.append((t("note.clv", group=group), "; ".join(parts)))
    states = ", ".join(t("note.migration.state", state=int(r.state), p=f"{r.probability:.1%}",
                         value=f"{r.value:,.2f}")
                       for r in analysis.migration.itertuples() if not pd.isna(r.probability))
    items.append((t("note.migration"), t("note.migration.value",
                                         days=o.migration_period_days, states=states)))
    predicted = predicted_notes(analysis, lang)[1:]  # after the comparison with Dwyer
    if predicted:
        items.append((t("predict.title"), " ".join(predicted)))
    items += [(t("note.split"), note) for note in split_notes]
    items += [(t("warn.title"), w) for w in data_warnings(analysis, lang)]
    return items


def _segment_rule(log: dict, scheme: object, lang: str) -> str:
    """Which high/low rule the segments used, and the means compared with."""
    if isinstance(scheme, str) and scheme == "named":
        return text("note.rule.named", lang)
    m = log["segment_means"]
    if log["segment_rule"] == "scores":
        return text("note.rule.scores", lang, r=f"{m['R']:.3f}", f=f"{m['F']:.3f}",
                    m=f"{m['M']:.3f}")
    return text("note.rule.measures", lang, r=f"{m['R']:,.1f}", f=f"{m['F']:,.2f}",
                m=f"{m['M']:,.2f}")


def _thresholds(table: pd.DataFrame) -> str:
    parts = []
    for rec in table.itertuples(index=False):
        within = f" [{rec.within}]" if rec.within else ""
        parts.append(f"{rec.measure[0].upper()}{rec.score}{within}: {rec.lower:g}–{rec.upper:g}")
    return "; ".join(parts[:60]) + (" ..." if len(parts) > 60 else "")
