"""Running LibreOffice headless: convert (and so recalculate) workbooks, render PDFs.

Used by the rendering script and the tests that open reports in real LibreOffice. Each
run gets its own profile folder, so parallel runs and a user's open LibreOffice do not
collide.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .core.errors import XlCrmError


class LibreOfficeError(XlCrmError):
    """LibreOffice is missing or failed."""


def soffice() -> str:
    """Path of the soffice executable."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    mac = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
    if mac.exists():
        return str(mac)
    raise LibreOfficeError("LibreOffice (soffice) is not installed")


# LibreOffice's setting "recalculation on file load" = always, for OOXML and ODF files: a
# workbook that stores computed values is otherwise shown with them, not recalculated.
RECALCULATE_ON_LOAD = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def convert(source: Path, fmt: str, out_dir: Path, timeout: float = 240) -> Path:
    """Convert ``source`` with ``soffice --headless --convert-to fmt``; returns the new file.

    ``fmt`` like ``pdf`` or ``xlsx:Calc MS Excel 2007 XML``. LibreOffice runs with a fresh
    profile set to recalculate every formula on load, whatever values the file stores, so
    converting a report to xlsx gives the values LibreOffice itself computes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xl_crm_lo_") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(RECALCULATE_ON_LOAD, encoding="utf-8")
        cmd = [soffice(), f"-env:UserInstallation=file://{profile}", "--headless",
               "--norestore", "--convert-to", fmt, "--outdir", str(out_dir), str(source)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as err:
            raise LibreOfficeError(f"LibreOffice timed out converting {source.name}") from err
    suffix = fmt.split(":", 1)[0]
    target = out_dir / f"{source.stem}.{suffix}"
    if done.returncode != 0 or not target.exists():
        raise LibreOfficeError(f"LibreOffice could not convert {source.name}: "
                               f"{(done.stderr or done.stdout).strip()[:300]}")
    return target


def pdf_to_png(pdf: Path, out_dir: Path, first: int = 1, last: int = 3,
               dpi: int = 80) -> list[Path]:
    """Pages ``first``..``last`` of a PDF as PNG files (poppler's pdftoppm)."""
    tool = shutil.which("pdftoppm")
    if not tool:
        raise LibreOfficeError("pdftoppm (poppler-utils) is not installed")
    prefix = out_dir / pdf.stem
    subprocess.run([tool, "-png", "-r", str(dpi), "-f", str(first), "-l", str(last), str(pdf),
                    str(prefix)], check=True, capture_output=True, timeout=120)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))
