"""Drive classic xlwings' own UDF path (Windows) as far as it runs on Linux; print JSON.

Run in a subprocess by tests/test_udf_cells.py. The Windows-only modules xlwings imports
(``pythoncom``, ``pywintypes``, ``win32com.client``, ``win32com.server.exception``) are
replaced by small stand-ins; everything else is xlwings' real code: its decorators
(``xlwings.udfs.xlfunc``/``xlarg``, which on Windows attach the metadata), its VBA
wrapper generator (``generate_vba_wrapper``, what "Import Functions" writes into the
workbook) and its ``call_udf`` (what the COM server runs per cell). The COM boundary is
pywin32's rule from ``com/win32com/src/ErrorUtils.cpp``: an exception that is an
instance of a *subclass* of ``pythoncom.com_error`` (a COM server exception) gives its
``description``; any other gives "Unexpected Python Error: " and the traceback. The VBA
wrapper then puts that description into the cell (``CRM_RFM = Err.Description``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import traceback
import types


def install_windows_stand_ins() -> type:
    """Stand-ins for the pywin32 modules xlwings.udfs imports; returns com_error."""
    pythoncom = types.ModuleType("pythoncom")

    class com_error(Exception):
        pass

    pythoncom.com_error = com_error
    pythoncom.CoInitialize = lambda: None
    pywintypes = types.ModuleType("pywintypes")
    pywintypes.com_error = com_error
    win32com = types.ModuleType("win32com")
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda obj, *a, **k: obj
    server = types.ModuleType("win32com.server")
    exception = types.ModuleType("win32com.server.exception")

    class COMException(com_error):
        """pywin32's server exception: the attributes its C code reads."""

        def __init__(self, description=None, scode=None, source=None, helpfile=None,
                     helpContext=None, desc=None, hresult=None):
            self.scode = scode or hresult
            self.description = description or desc
            self.source, self.helpfile, self.helpcontext = source, helpfile, helpContext
            com_error.__init__(self, self.scode, self.description, None, -1)

    exception.COMException = COMException
    win32com.client, win32com.server, server.exception = client, server, exception
    sys.modules.update({"pythoncom": pythoncom, "pywintypes": pywintypes,
                        "win32com": win32com, "win32com.client": client,
                        "win32com.server": server, "win32com.server.exception": exception})
    return com_error


# Excel's cell error codes as pywin32 passes them (xlwings._xlwindows.cell_errors)
CELL_ERRORS = {-2146826281: "#DIV/0!", -2146826246: "#N/A", -2146826259: "#NAME?",
               -2146826288: "#NULL!", -2146826252: "#NUM!", -2146826265: "#REF!",
               -2146826273: "#VALUE!"}


class ExcelEngineStandIn:
    """xlwings._xlwindows.Engine's two data hooks, line for line, with Python datetimes
    standing in for pywin32's time type."""

    name, type = "excel", "desktop"

    @staticmethod
    def clean_value_data(data, datetime_builder, empty_as, number_builder, err_to_str):
        def clean(value):
            if value in ("", None):
                return empty_as
            if isinstance(value, dt.datetime):
                return datetime_builder(value.year, value.month, value.day, value.hour,
                                        value.minute, value.second, value.microsecond)
            if number_builder is not None and isinstance(value, float):
                return number_builder(value)
            if isinstance(value, int) and value in CELL_ERRORS:
                return CELL_ERRORS[value] if err_to_str else None
            return value

        return [[clean(c) for c in row] for row in data]

    @staticmethod
    def prepare_xl_data_element(x, date_format):
        return "" if x is None else x


def cell_text(err: BaseException, com_error: type) -> str:
    """What the cell shows: pywin32's EXCEPINFO description, as the VBA wrapper writes it."""
    if isinstance(err, com_error) and type(err) is not com_error:
        return err.description
    return "Unexpected Python Error: " + "".join(traceback.format_exception(err))


def main() -> None:
    com_error = install_windows_stand_ins()
    import xlwings
    import xlwings.udfs as classic

    # on Windows these are xlwings' decorators; elsewhere xlwings exports no-ops
    xlwings.func, xlwings.arg, xlwings.ret = classic.xlfunc, classic.xlarg, classic.xlret
    windows = types.SimpleNamespace(
        Range=lambda xl=None: types.SimpleNamespace(xl=xl),
        is_range_instance=lambda value: False)
    xlwings._xlwindows = windows
    xlwings.engines.add(xlwings.main.Engine(impl=ExcelEngineStandIn()))
    sys.modules["xlwings.com_server"] = types.SimpleNamespace(loop=None)

    from xl_crm import udfs

    out: dict = {"vba": "", "args": {}, "cells": {}}
    vba = io.StringIO()
    classic.generate_vba_wrapper("xl_crm.udfs", udfs, vba,
                                 types.SimpleNamespace(Name="xl_crm_monthly.xlsm"))
    out["vba"] = vba.getvalue()
    for name in udfs.__all__:
        info = getattr(udfs, name).__xlfunc__
        out["args"][name] = [{"name": a["name"], "doc": a["doc"], "options": a["options"]}
                             for a in info["args"]]

    def cell(func: str, *args: object) -> object:
        try:
            return classic.call_udf("xl_crm.udfs", func, args)
        except Exception as err:  # noqa: BLE001 - what crosses the COM boundary
            return cell_text(err, com_error)

    day = dt.datetime(2025, 3, 1)
    out["cells"]["bad amount"] = cell(
        "CRM_RFM", [["Customer"], ["a"], ["b"]], [["Date"], [day], [day]],
        [["Amount"], [1.0], ["abc"]], -2147352572, -2147352572, -2147352572)
    out["cells"]["good"] = cell(
        "CRM_ABC", [["a"], ["b"], ["a"]], [[10.0], [5.0], [5.0]], -2147352572, -2147352572)
    out["cells"]["#N/A value"] = cell(
        "CRM_ABC", [["a"], ["b"]], [[10.0], [-2146826246]], -2147352572, -2147352572)
    out["cells"]["#DIV/0! as_of"] = cell(
        "CRM_LIFECYCLE", [["a"]], [[day]], [[5.0]], -2146826281)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero\nsecond line")

    udfs.abc_tiers, original = broken, udfs.abc_tiers
    out["cells"]["a bug"] = cell("CRM_ABC", [["a"]], [[1.0]], -2147352572, -2147352572)
    udfs.abc_tiers = original
    # the same error raised without xl_crm's decorator: what classic xlwings showed before
    plain = udfs.CRM_STRATEGY.__wrapped__
    try:
        plain("")
    except Exception as err:  # noqa: BLE001
        out["cells"]["undecorated"] = cell_text(err, com_error)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
