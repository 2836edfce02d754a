"""Rebuild the sample workbooks in this folder: ``python workbooks/generate_sample.py``.

The seeded generator itself is :mod:`xl_crm.sample` (also used by the benchmarks and by
``xl-crm demo`` when the package runs without this folder).
"""

from pathlib import Path

from xl_crm.sample import main

if __name__ == "__main__":
    main(["--out-dir", str(Path(__file__).resolve().parent)])
