"""How a worksheet function's error reaches its cell: one line, never a traceback.

Classic xlwings (Windows) runs a function through a VBA wrapper that puts the COM
error's description into the cell (``CRM_RFM = Err.Description``). pywin32 fills that
description with "Unexpected Python Error: Traceback (most recent call last): ..."
for every exception except a COM server exception (a subclass of
``pythoncom.com_error``), whose ``description`` it passes through unchanged. So on
Windows :class:`CellError` is also a ``win32com.server.exception.COMException`` whose
description is the one-line message.

xlwings Lite (Pyodide, ``sys.platform == "emscripten"``) draws its own error display;
there the registered function *returns* the message as the cell's text, so what the cell
shows is the same line as in classic xlwings.

Everywhere else (tests, a Python caller) :class:`CellError` is an
:class:`~xl_crm.core.errors.InputError` with the same message, column and row: the
contract of shared/interface.md ("bad input raises an error") holds. An exception that
is not an InputError (a bug) becomes a CellError too, reading
``unexpected error: TypeError: ... (please report it)``, with the original chained.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from .core.errors import InputError, clip

F = TypeVar("F", bound=Callable[..., Any])

DISP_E_EXCEPTION = -2147352567  # the scode of "an exception occurred" in COM
IN_LITE = sys.platform == "emscripten"


def _com_exception() -> tuple[type, ...]:
    """pywin32's COM server exception class where pywin32 is installed (Windows)."""
    try:
        from win32com.server.exception import COMException
    except ImportError:
        return ()
    return (COMException,)


class CellError(InputError, *_com_exception()):
    """An error as a worksheet cell shows it: ``str(err)`` and, on Windows, the COM
    ``description`` are the one-line message."""

    def __init__(self, message: str, column: str | None = None, row: int | None = None):
        InputError.__init__(self, message, column, row)
        text = str(self)
        # the attributes pywin32 reads from a server exception (ErrorUtils.cpp)
        self.description = text
        self.scode = DISP_E_EXCEPTION
        self.source = "xl_crm"
        self.helpfile = None
        self.helpcontext = 0


def cell_error(err: BaseException) -> CellError:
    """The :class:`CellError` for any exception a worksheet function raised."""
    if isinstance(err, CellError):
        return err
    if isinstance(err, InputError):
        return CellError(err.reason, err.column, err.row)
    reason = clip(" ".join(str(err).split()) or "no message", 200)
    return CellError(f"unexpected error: {type(err).__name__}: {reason} (please report it)")


def one_line_errors(func: F) -> F:
    """Decorate a worksheet function (under ``@xw.func``/``@xw.arg``) so that every error
    reaches its cell as one line: raised as :class:`CellError`, or in xlwings Lite
    returned as the cell's text."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as err:  # a cell gets one line, never a traceback
            error = cell_error(err)
            if IN_LITE:
                return str(error)
            if error is err:
                raise
            raise error from err

    return wrapper  # type: ignore[return-value]
