"""Every user-facing error of sseft, in one place.

Each error carries a single-line message that names the file, item or field at fault and what to
do about it. The CLI prints `error: <message>` without a traceback (unless `--debug`).
"""

from __future__ import annotations


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


class ExtractionError(SseftError):
    """An encoder could not be built (missing weights, unknown model id offline...)."""


class ItemError(SseftError):
    """One item of a long job could not be processed; recorded in failures.jsonl, the job goes on."""

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{item_id}: {self.reason}")
