"""Writing output files safely: to a temporary file beside the target, then renamed.

A failure or an interruption leaves no partial file; an existing file is replaced only
when the caller allows it; the user's input file is never a target. A new file gets the
permissions every new file of the user gets (0666 less the umask, as ``open`` gives); a
replaced file keeps its permission bits.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .core.errors import XlCrmError, user_path


class OutputError(XlCrmError):
    """An output file cannot be written where asked."""


def check_target(target: Path, overwrite: bool = False, inputs: Sequence[Path] = ()) -> Path:
    """The resolved target, after refusing input files, a target inside an input folder
    (every sales file there is read), folders, a missing folder (or a file where the
    folder should be) and, unless allowed, existing files."""
    target = user_path(target).resolve()
    for source in inputs:
        source = user_path(source).resolve()
        if source == target:
            raise OutputError(f"{target.name} is the input file; choose another output name")
        if source.is_dir() and target.parent == source:
            raise OutputError(f"{target.name} would be written into {source.name}, the folder "
                              "of sales files, and read as sales on the next run; write it "
                              "elsewhere")
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file name inside it")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} exists; pass --overwrite to replace it")
    folder = target.parent
    if not folder.is_dir():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise OutputError(f"{existing} is a file, not a folder, so {target.name} cannot "
                              "be written there")
        raise OutputError(f"folder {folder} does not exist")
    return target


def _create_beside(target: Path, made: list[Path]) -> Path:
    """A new empty file ``.{stem}-{random}{suffix}`` in the target's folder, created with
    mode 0666 so that the kernel applies the umask (``mkstemp`` would give 0600).

    Its name is put in ``made`` *before* the file exists and taken out only when the name
    turns out to be another file's: an interruption (a signal raising in Python) just
    after the file is created, before this returns, still leaves its name with the caller,
    who removes it."""
    for _ in range(100):
        tmp = target.with_name(f".{target.stem}-{secrets.token_hex(4)}{target.suffix}")
        made.append(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
        except FileExistsError:
            made.remove(tmp)  # somebody else's
            continue
        except OSError as err:
            made.remove(tmp)  # not made
            raise OutputError(f"cannot write in folder {target.parent}: "
                              f"{err.strerror or err}") from err
        os.close(fd)
        return tmp
    raise OutputError(f"cannot write in folder {target.parent}: no free temporary name")


@contextmanager
def atomic_output(target: Path, overwrite: bool = False,
                  inputs: Sequence[Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    Mode of the result: an existing target's permission bits when it is replaced, else
    0666 less the umask. The temporary file is removed on every failure, interruption
    included (KeyboardInterrupt, and SIGTERM/SIGHUP as the command line raises them).
    """
    target = check_target(target, overwrite, inputs)
    made: list[Path] = []
    try:
        tmp_path = _create_beside(target, made)
        yield tmp_path
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp_path, stat.S_IMODE(target.stat().st_mode))
        try:
            os.replace(tmp_path, target)
        except OSError as err:  # e.g. the target is open in Excel (Windows)
            raise OutputError(f"cannot replace {target}: {err.strerror or err}") from err
    finally:
        for path in made:  # the temporary file, also when a signal came as it was made
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
