"""xl_crm: customer value for people who work in Excel.

The pure computing core lives in :mod:`xl_crm.core`; the adapters (worksheet functions,
macro, report, CLI, mail) call it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xl_crm")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
