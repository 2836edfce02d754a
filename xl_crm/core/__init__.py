"""Pure computing core of xl_crm: pandas and numpy only, no Excel, no files written.

One module per job: ``values`` (cell parsers), ``columns`` (header detection), ``sales``
(reading sales tables into canonical transactions), ``rfm``, ``segments``, ``tiers``,
``clv``, ``lifecycle``, ``matrix``, ``strategy`` and ``analysis`` (all methods at once).
"""
