"""Where a sweep's study lives (Optuna's RDB storage), how its workers claim trials atomically, and
how a worker that died mid-trial is noticed.

* Storage: a SQLite file by default (one machine); a PostgreSQL (or MySQL) URL when workers run on
  several machines. A bad URL, a refused login or an absent server is one line naming the URL with
  its password replaced by `***`.
* Claiming a trial is atomic: a file lock beside a SQLite file, a PostgreSQL advisory lock
  (`pg_advisory_lock`, released by the server when the holder's connection drops, so a killed
  worker never leaves it held) or MySQL's GET_LOCK on a server.
* Heartbeats: a running trial records one every `heartbeat` seconds; a trial silent for four
  intervals is marked FAIL by the next worker that claims or waits, and Optuna's
  RetryHeartbeatStaleTrialCallback enqueues it once more with the same parameters.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError

GRACE_INTERVALS = 4  # a trial is stale after this many missed heartbeats
MAX_RETRY = 1


# `[scheme://]user:PASSWORD@`: the password is group 2 (also in a URL without a scheme: a typo).
_CREDENTIALS = re.compile(r"^((?:[\w+.-]+://)?[^:/@]*:)([^@]*)@")


def redact(url: str) -> str:
    """The URL with its password (`user:PASSWORD@`) replaced by `***`."""
    return _CREDENTIALS.sub(r"\1***@", url)


def sqlite_file(url: str) -> Path | None:
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def _dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def engine_url(url: str) -> str:
    """`postgresql://` names no driver, and SQLAlchemy 2.1 then picks psycopg 3; the `cluster` extra
    installs psycopg2: use it when psycopg 3 is absent."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _connect_args(url: str) -> dict[str, Any]:
    dialect = _dialect(url)
    if dialect == "sqlite":  # wait for the other workers' writes instead of "database is locked"
        return {"timeout": 120}
    if dialect == "postgresql":  # a host that drops packets fails in 10 s instead of minutes
        return {"connect_timeout": 10}
    if dialect == "mysql":
        return {"connect_timeout": 10}
    return {}


def storage_url_error(url: str, err: BaseException) -> ConfigError:
    """One line for a storage URL that cannot be used: unparsable, unknown kind, missing driver,
    refused login, no server, missing database."""
    shown = redact(url)
    kind = url.split(":", 1)[0] if ":" in url else url
    orig = getattr(err, "orig", None) or err
    lines = str(orig).strip().splitlines()
    detail = lines[0] if lines else type(orig).__name__
    password = _CREDENTIALS.match(url)
    if password and password.group(2):
        detail = detail.replace(password.group(2), "***")
    low = detail.lower()
    hint = "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    name = type(err).__name__
    if name == "ArgumentError":
        return ConfigError(f"--storage {shown}: not a database URL; expected {hint}")
    if name == "NoSuchModuleError":
        return ConfigError(f"--storage {shown}: unknown database kind {kind!r}; expected {hint}")
    if isinstance(err, ImportError):
        return ConfigError(
            f"--storage {shown}: the database driver is not installed ({detail}); "
            "pip install 'sseft[cluster]' for PostgreSQL"
        )
    if any(s in low for s in ("password authentication failed", "authentication failed", "access denied",
                              "no pg_hba.conf entry", "role ") ):  # fmt: skip
        return ConfigError(f"--storage {shown}: the database refused the login ({detail}); check the user "
                           "and password")  # fmt: skip
    if "does not exist" in low and "database" in low:
        return ConfigError(f"--storage {shown}: {detail}; create it first (e.g. createdb)")
    if any(s in low for s in ("connection refused", "could not connect", "timeout expired", "timed out",
                              "could not translate host name", "name or service not known",
                              "can't connect", "no route to host")):  # fmt: skip
        return ConfigError(f"--storage {shown}: no database server answers there ({detail}); start it or "
                           "fix the host and port")  # fmt: skip
    return ConfigError(f"--storage {shown}: {detail}")


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Errors of opening or using the storage, as storage_url_error lines."""
    import sqlalchemy.exc

    try:
        yield
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.InterfaceError, ImportError) as e:  # fmt: skip
        raise storage_url_error(url, e) from None


def open_storage(url: str, heartbeat: float | None) -> Any:
    """Optuna's RDBStorage; with `heartbeat` (seconds), trials record heartbeats and a stale one is
    failed and retried once (RetryFailedTrialCallback)."""
    import warnings

    import optuna

    with warnings.catch_warnings():  # Optuna marks its heartbeat API experimental: not the user's concern
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        kwargs: dict[str, Any] = {}
        if heartbeat:
            interval = max(1, round(heartbeat))
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
            kwargs = {"heartbeat_interval": interval, "grace_period": GRACE_INTERVALS * interval,
                      "heartbeat_stale_trial_callback": retry}  # fmt: skip
        with translated(url):
            return optuna.storages.RDBStorage(engine_url(url), engine_kwargs={"connect_args": _connect_args(url)},
                                              **kwargs)  # fmt: skip


@contextmanager
def study_lock(url: str, name: str) -> Iterator[bool]:
    """Held while a worker creates the study or claims a trial; yields False where no lock exists
    (another server kind: the caller then guards against a claim past the budget itself)."""
    db = sqlite_file(url)
    if db is not None:
        from filelock import FileLock

        db.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(db) + ".lock"):
            yield True
        return
    dialect = _dialect(url)
    if dialect not in ("postgresql", "mysql"):
        yield False
        return
    import sqlalchemy

    key = zlib.crc32(f"sseft-sweep:{name}".encode())  # a stable 32-bit key per study
    with translated(url):
        engine = sqlalchemy.create_engine(engine_url(url), poolclass=sqlalchemy.pool.NullPool,
                                          connect_args=_connect_args(url))  # fmt: skip
        conn = engine.connect()
    try:
        if dialect == "postgresql":
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            unlock = "SELECT pg_advisory_unlock(:k)"
        else:
            conn.execute(sqlalchemy.text("SELECT GET_LOCK(:k, 600)"), {"k": f"sseft-sweep-{key}"})
            unlock = "SELECT RELEASE_LOCK(:k)"
            key = f"sseft-sweep-{key}"  # type: ignore[assignment]
        yield True
        conn.execute(sqlalchemy.text(unlock), {"k": key})
    finally:
        conn.close()
        engine.dispose()


class Heartbeat:
    """Records a running trial's heartbeat every `interval` seconds in a daemon thread (the first at
    once), until the trial is told."""

    def __init__(self, storage: Any, trial_id: int, interval: float | None) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.interval:
            self.storage.record_heartbeat(self.trial_id)
            self._thread = threading.Thread(target=self._beat, daemon=True, name="sweep-heartbeat")
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a network blip: the next beat tries again; a long gap makes the trial stale
                continue

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def fail_stale(study: Any) -> None:
    """Mark the trials whose heartbeat went stale (a dead worker's) FAIL; the storage's callback
    enqueues each one's retry."""
    import warnings

    import optuna

    with warnings.catch_warnings():  # experimental in Optuna's terms
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def retried_number(trial: Any) -> int | None:
    """The number of the failed trial this one retries (None for a planned trial)."""
    # The system attribute Optuna's RetryHeartbeatStaleTrialCallback sets on the retry; a live Trial
    # (from study.ask) reads it from the storage.
    attrs = getattr(trial, "system_attrs", None)
    if attrs is None:
        attrs = trial.storage.get_trial_system_attrs(trial._trial_id)
    number = attrs.get("failed_trial")
    return None if number is None else int(number)
