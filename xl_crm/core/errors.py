"""Errors the core raises; adapters turn them into cell errors, exit codes or dialogs."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path


class XlCrmError(Exception):
    """Base class of every error xl_crm raises on purpose."""


class InputError(XlCrmError, ValueError):
    """Bad input, with the column (or argument) and the row where it was found.

    ``row`` counts from 1 at the first cell of the range or sheet the user gave, so a
    message reads like ``amounts row 17: 'abc' is not a number``.
    """

    def __init__(self, message: str, column: str | None = None, row: int | None = None):
        self.column = column
        self.row = row
        self.reason = message
        where = ""
        if column is not None and row is not None:
            where = f"{column} row {row}: "
        elif column is not None:
            where = f"{column}: "
        elif row is not None:
            where = f"row {row}: "
        super().__init__(where + message)


def show(value: object, limit: int = 40) -> str:
    """Quote a user's value for an error message, shortened to ``limit`` characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value.bit_length() > 4_000:  # str() refuses 4,300 digits
        sign = "a negative" if value < 0 else "a"
        return f"{sign} whole number of about {int(value.bit_length() * 0.30103):,} digits"
    return clip(repr(value) if isinstance(value, str) else str(value), limit)


def is_control(ch: str) -> bool:
    """Control characters and line/paragraph separators (header injection, broken lines)."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def show_path(path: object) -> str:
    """A file path for a message: as typed, or quoted with escapes when it holds a line
    break or another control character, so the message stays on one line."""
    text = str(path)
    if any(is_control(ch) for ch in text):
        return repr(text)
    return text


def user_path(path: object) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded where there is such a home;
    else as typed (pathlib's ``expanduser`` raises RuntimeError for an unknown user)."""
    return Path(os.path.expanduser(str(path)))


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters for a message ("..." marks the cut)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
