"""Every user-facing error of sseft, in one place.

Each error carries a single-line message that names the file, item or field at fault and what to
do about it. The CLI prints `error: <message>` without a traceback (unless `--debug`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class SseftError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep the message to one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split("\n")).strip())


class ConfigError(SseftError):
    """An experiment or component config failed validation or could not be read."""


class PluginError(SseftError):
    """A plugin failed to load, registered something invalid, or clashed with another plugin."""


class UnknownNameError(SseftError, KeyError):
    """A model, dataset, head or modality name that nothing registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class DataError(SseftError):
    """A dataset, manifest, media file or feature store is malformed or missing."""


class FeatureStoreError(DataError):
    """A feature store is missing, incomplete, inconsistent with the config, or corrupt."""


class RegistryError(SseftError):
    """A registry operation failed: bad name, missing version, clash."""


class IntegrityError(RegistryError):
    """An artifact failed verification (checksum, truncation, missing or unexpected keys)."""


class ExportError(SseftError):
    """A model (or a part of it) cannot be written to another runtime's format (ONNX), or the written
    graph does not reproduce PyTorch's outputs."""


class ExtractionError(SseftError):
    """An encoder could not be built (missing weights, unknown model id offline...)."""


class ItemError(SseftError):
    """One item of a long job could not be processed; recorded in failures.jsonl, the job goes on."""

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{item_id}: {self.reason}")


class RunError(SseftError):
    """A training run cannot start or continue: its directory exists or is in use, a checkpoint is
    damaged, the loss diverged, or the disk refused a checkpoint write."""


class StorageError(SseftError):
    """The operating system refused a read or write: disk full, read-only filesystem, permissions.

    Exit code 1 (the environment, not the input, is at fault). Built from an OSError by
    `storage_error`, which names the file and says what to do.
    """

    exit_code = 1


# errno name -> what the user can do about it (the strerror itself says what happened).
_OS_HINTS = {
    "ENOSPC": "free disk space there (or write somewhere else) and run the command again",
    "EDQUOT": "your disk quota is used up: free space (or write somewhere else) and run the command again",
    "EROFS": "the filesystem is read-only: choose a writable location (for the registry: set SSEFT_HOME)",
    "EACCES": "check the permissions of this file and its folder (or write somewhere else)",
    "EPERM": "check the permissions of this file and its folder (or write somewhere else)",
    "ENOENT": "check that the path exists",
    "EIO": "the disk reported an input/output error: check the disk, then run the command again",
    "EMFILE": "too many open files: raise the limit (`ulimit -n`) or use fewer workers",
    "ENFILE": "too many open files on this system: close some programs or use fewer workers",
    "ENAMETOOLONG": "use a shorter path",
}


def os_error_hint(err: OSError) -> str:
    """What to do about `err`, in a few words."""
    import errno

    if isinstance(err, TimeoutError) and not err.errno:  # filelock.Timeout: a lock someone else holds
        return "another process holds this lock: wait for it to finish, then try again"
    name = errno.errorcode.get(err.errno or 0, "")
    return _OS_HINTS.get(name, "check the path, the free space and the permissions, then try again")


def storage_error(err: OSError, path: object = None, note: str = "") -> StorageError:
    """One line `FILE: what happened; what to do[; note]` for an OSError.

    The file is the one the OSError names, else `path` (the thing being written: many OSErrors,
    ENOSPC from a write among them, carry no file name).
    """
    where = err.filename if err.filename is not None else path
    what = (err.strerror or str(err) or type(err).__name__).rstrip(".")
    head = f"{where}: {what}" if where is not None else what
    return StorageError(f"{head}; {os_error_hint(err)}" + (f"; {note}" if note else ""))


@contextlib.contextmanager
def os_errors(path: object = None, note: str = "") -> Iterator[None]:
    """`with os_errors(target):` turns an OSError inside into a StorageError naming `target`."""
    try:
        yield
    except OSError as e:
        raise storage_error(e, path, note) from e
