"""Writing output files safely: to a temporary file beside the target, then renamed.

A failure or an interruption leaves no partial file; an existing file is replaced only
when the caller allows it; the user's input file is never a target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .core.errors import XlCrmError


class OutputError(XlCrmError):
    """An output file cannot be written where asked."""


def check_target(target: Path, overwrite: bool = False, inputs: Sequence[Path] = ()) -> Path:
    """The resolved target, after refusing input files and (unless allowed) existing files."""
    target = Path(target).expanduser().resolve()
    for source in inputs:
        if Path(source).expanduser().resolve() == target:
            raise OutputError(f"{target.name} is the input file; choose another output name")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} exists; pass --overwrite to replace it")
    if not target.parent.exists():
        raise OutputError(f"folder {target.parent} does not exist")
    return target


@contextmanager
def atomic_output(target: Path, overwrite: bool = False,
                  inputs: Sequence[Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success."""
    target = check_target(target, overwrite, inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
