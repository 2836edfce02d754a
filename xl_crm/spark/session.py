"""The Spark session the engine runs in: the master from ``XL_CRM_SPARK_MASTER`` (default
``local[*]``, every core of this computer), Spark configuration from
``XL_CRM_SPARK_CONF`` and the command line's ``--conf key=value``, and the settings the
engine needs (UTC session time zone, Arrow for the Python conversion). A session that
already runs in this process (a notebook's, the tests') is used as it is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path

from ..core.errors import InputError

MASTER_ENV = "XL_CRM_SPARK_MASTER"
CONF_ENV = "XL_CRM_SPARK_CONF"  # key=value pairs, one per line or separated by ';'

# what the engine sets unless the user's configuration says otherwise
DEFAULTS = {
    "spark.app.name": "xl_crm",
    "spark.sql.session.timeZone": "UTC",  # nothing depends on the computer's zone
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # the Python conversion's batches: fewer, larger calls of the pandas cell rules
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    "spark.ui.showConsoleProgress": "false",  # the command line reports progress itself
}


def parse_conf(pairs: Sequence[str], source: str = "--conf") -> dict[str, str]:
    """``key=value`` texts as a dict; a pair without ``=`` or without a key is refused."""
    conf = {}
    for pair in pairs:
        pair = pair.strip()
        if not pair:
            continue
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise InputError(f"{pair!r} is not key=value (e.g. spark.executor.memory=8g)",
                             source)
        conf[key.strip()] = value.strip()
    return conf


def configured(conf: Mapping[str, str] | None = None,
               environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The configuration a new session gets: :data:`DEFAULTS`, then ``XL_CRM_SPARK_CONF``,
    then ``conf`` (the command line's), later ones winning."""
    text = environ.get(CONF_ENV, "")
    from_env = parse_conf(text.replace(";", "\n").splitlines(), CONF_ENV)
    return {**DEFAULTS, **from_env, **dict(conf or {})}


def master(environ: Mapping[str, str] = os.environ) -> str:
    """The master URL: ``XL_CRM_SPARK_MASTER``, else ``local[*]``."""
    return environ.get(MASTER_ENV, "").strip() or "local[*]"


def spark_session(conf: Mapping[str, str] | None = None):
    """The running Spark session, or a new one (see the module). Local sessions run
    their workers with this Python and keep Spark's scratch files (customer data) in a
    private folder removed at exit; a cluster's workers use the cluster's Python, which
    needs xl_crm installed (README, "Spark")."""
    # pyspark 4.0-4.3 warn that they are not yet tested with pandas 3 and use pandas
    # arguments pandas 3 deprecates: not the user's concern (the engine's tests run on
    # pandas 2 and 3); here and in the local workers, which inherit the environment
    warnings.filterwarnings("ignore", module=r"pyspark\.")
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql import SparkSession
    except ImportError as err:
        raise InputError("the Spark engine needs pyspark (and Java 17 or newer): "
                         "pip install 'xl_crm[spark]'") from err
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    url = master()
    settings = configured(conf)
    builder = SparkSession.builder.master(url)
    if url.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        settings = local_settings(settings, os.environ, _private_folder)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            session = builder.getOrCreate()
    except Exception as err:  # no Java, a bad master URL: Spark's first line says which
        detail = str(err).strip().splitlines()
        raise InputError("Spark did not start: " + (detail[0][:300] if detail else
                                                     type(err).__name__)) from err
    # Spark's log would print Java stack traces for a refused file; the engine reports
    # every failure in one line of its own
    session.sparkContext.setLogLevel("OFF")
    return session


def local_settings(settings: Mapping[str, str], environ: MutableMapping[str, str],
                   folder: Callable[[], str]) -> dict[str, str]:
    """``settings`` with what a local session adds unless the user set it: no web UI,
    :func:`local_driver_memory`, and Spark's scratch files and its catalogue's warehouse
    (``spark-warehouse``, which Spark would otherwise create in the current folder when
    the catalogue is first used, as ``--table`` does) in ``folder()``, a private folder
    made once if needed. The scratch folder goes to ``environ`` (``SPARK_LOCAL_DIRS``),
    as ``spark.local.dir`` in the settings draws a warning."""
    out = dict(settings)
    out.setdefault("spark.ui.enabled", "false")
    if "SPARK_DRIVER_MEMORY" not in environ:
        out.setdefault("spark.driver.memory", local_driver_memory())
    private: list[str] = []

    def mine() -> str:
        if not private:
            private.append(folder())
        return private[0]

    if "spark.local.dir" not in out and "SPARK_LOCAL_DIRS" not in environ:
        environ["SPARK_LOCAL_DIRS"] = mine()
    if "spark.sql.warehouse.dir" not in out:
        # a file URI with the path as it is: Hadoop takes a percent-encoded one (what
        # Path.as_uri gives for a space or a Chinese user name) literally
        out["spark.sql.warehouse.dir"] = "file:///" + Path(mine(), "warehouse").as_posix(
        ).lstrip("/")
    return out


def local_driver_memory(physical: int | None = None) -> str:
    """The Java heap of a local session (driver and workers in one process), unless the
    configuration or ``SPARK_DRIVER_MEMORY`` gives one: half of this computer's memory
    (``physical``, bytes), at least 1 GiB and at most 64 GiB, in whole GiB. Spark's own
    default, 1 GiB, stops its Java process on ten million lines (826,000 customers)."""
    if physical is None:
        physical = _physical_memory()
    gib = physical // 2 // 2**30 if physical else 4
    return f"{min(max(gib, 1), 64)}g"


def _physical_memory() -> int | None:
    """This computer's memory in bytes, where the system says (not on Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _private_folder() -> str:
    """A folder only this user can open, removed when the process ends."""
    folder = tempfile.mkdtemp(prefix="xl_crm_spark_")
    atexit.register(shutil.rmtree, folder, True)
    return folder
