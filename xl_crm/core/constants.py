"""The numbers and names several parts share, each defined once: units and the methods'
default parameters. Pure Python (no pandas), so the command line builds its flags from
:mod:`xl_crm.options` without importing the analysis stack.

Units: days are calendar days; a year is :data:`YEAR_DAYS` days (365, as shared/domain.md
counts "the last 365 days"); shares are fractions (0.8 = 80%).
"""

from __future__ import annotations

YEAR_DAYS = 365  # days in a year of the analysis (value of the last year, CLV years)
MONEY_DECIMALS = 6  # money sums are rounded to this (binary noise off, cents exact)

A_CUT, B_CUT = 0.8, 0.95  # ABC: cumulative shares of value closing tiers A and B
PYRAMID_SHARES = (0.01, 0.04, 0.15)  # head-count shares of VIP, Major and Ordinary

DEFAULT_BINS = 5  # RFM scores per measure
MIN_BINS, MAX_BINS = 2, 9  # the scores a measure may have
BINNINGS = ("quantile", "nested", "fixed")  # the first is the default
# RFM segment schemes; the first is the default. value8 compares raw measures with their
# means, value8-score (the textbook variant) compares scores with the mean score
SCHEMES = ("value8", "named", "value8-score")
DEFAULT_SCHEME = SCHEMES[0]
SCHEME_KINDS = {"value8": "value8", "named": "named", "value8-score": "value8"}  # labels' kind

PERIODS = ("month", "week", "none")  # change since the previous month end, week; the default first
LABEL_FACTS = ("name", "region", "rep")  # text facts: the value on the customer's latest row
LANGS = ("en", "zh")  # languages of every text; the first is the default
