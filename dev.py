"""Set up and run xl_crm from a fresh checkout, on Linux, macOS and Windows.

    python3 dev.py demo    # make .venv, install xl_crm (no test tools), run the sample job
    python3 dev.py test    # make .venv, install xl_crm with test tools, lint, run the tests

Needs only Python 3.11+ (standard library). The virtual environment lives in ``.venv``
next to this file and is reinstalled when ``pyproject.toml`` changes. Extra arguments
are passed on (``python3 dev.py test -k rfm``, ``python3 dev.py demo --lang zh``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(with_tests: bool) -> None:
    """Create .venv and install the package (with its test extra for ``test``; ``demo``
    needs none of the test tools), once per pyproject."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older Python
        sys.exit(f"xl_crm needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    stamp = VENV / ".xl_crm-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    done = stamp.read_text().split() if stamp.exists() and PYTHON.exists() else []
    if done[:1] == [digest] and (not with_tests or "test" in done):
        return
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing xl_crm and its dependencies ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-e", f"{ROOT}[test]" if with_tests else str(ROOT)], check=True)
    stamp.write_text(f"{digest} test" if with_tests else digest)


def run(args: list[str]) -> int:
    """Run a command with the venv's Python from the repository root."""
    return subprocess.run([str(PYTHON), *args], cwd=ROOT, check=False).returncode


def main(argv: list[str]) -> int:
    """Dispatch ``demo`` or ``test``."""
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv(with_tests=command == "test")
    if command == "demo":
        return run(["-m", "xl_crm.cli", "demo", *rest])
    lint = run(["-m", "ruff", "check", "."])
    tests = run(["-m", "pytest", *rest])
    return tests or lint


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
