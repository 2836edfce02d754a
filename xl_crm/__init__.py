"""xl_crm: customer value for people who work in Excel.

The pure computing core lives in :mod:`xl_crm.core`; the adapters (worksheet functions,
macro, report, CLI, mail) call it.
"""

# the one place of the version: pyproject.toml reads it from here (tool.setuptools.dynamic);
# a literal, not importlib.metadata, which costs 50 ms of every command's start
__version__ = "0.1.0"

__all__ = ["__version__"]
