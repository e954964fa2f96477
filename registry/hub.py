"""Hugging Face-compatible folders: what `sseft models export` writes, `sseft models import` and
`sseft.load` read back, and `sseft.load("hf:ORG/REPO[@REVISION]")` fetches through huggingface_hub.

A published artifact already is such a folder: config.json, model.safetensors, README.md (the card,
card.py, with the Hub's YAML front matter), checksums.json; no pickles. Upload it as it is
(`huggingface-cli upload ORG/REPO DIR`).

`hf:` references go through `huggingface_hub.snapshot_download` (only the four artifact files), so
its cache (`$HF_HOME/hub`, `$HF_HUB_CACHE`), revision pinning (`hf:org/repo@<commit|tag|branch>`)
and offline mode (`HF_HUB_OFFLINE=1`: the cached snapshot, no network) apply; the snapshot is then
checked like any artifact (checksums, config, weights) before a model is built.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sseft.core.environment import hf_offline
from sseft.core.errors import IntegrityError, RegistryError

from .integrity import CARD, CHECKSUMS, CONFIG, WEIGHTS, check_dir

PREFIX = "hf:"
FILES = [CONFIG, WEIGHTS, CARD, CHECKSUMS]
# The Hub's repo ids: an owner and a name of letters, digits, '-', '_', '.' (no '..', no '/').
REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
REVISION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


def is_hf_ref(ref: Any) -> bool:
    return isinstance(ref, str) and ref.startswith(PREFIX)


def parse_hf_ref(ref: str) -> tuple[str, str | None]:
    """'hf:org/repo' or 'hf:org/repo@revision' -> (repo id, revision or None), validated."""
    body = ref[len(PREFIX) :]
    repo, _, revision = body.partition("@")
    if not REPO_RE.fullmatch(repo) or ".." in repo:
        raise RegistryError(
            f"invalid Hugging Face reference {ref!r}: expected hf:ORG/REPO or hf:ORG/REPO@REVISION"
        )
    if revision and (not REVISION_RE.fullmatch(revision) or ".." in revision):
        raise RegistryError(f"invalid revision in {ref!r}: a commit hash, tag or branch name")
    return repo, revision or None


def _cache_dir() -> str:
    """$HF_HUB_CACHE, else $HF_HOME/hub, else huggingface_hub's default, as set now."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return str(constants.HF_HUB_CACHE)


def resolve_hf(ref: str) -> Path:
    """The local snapshot folder of an `hf:` reference (downloaded into the cache unless offline)."""
    repo, revision = parse_hf_ref(ref)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise RegistryError(
            f"{ref}: loading from the Hub needs huggingface_hub (pip install huggingface_hub)"
        ) from None
    offline = hf_offline()
    try:
        path = snapshot_download(
            repo,
            revision=revision,
            cache_dir=_cache_dir(),
            allow_patterns=FILES,
            local_files_only=offline,
            library_name="sseft",
        )
    except RevisionNotFoundError:
        raise RegistryError(f"{ref}: the repository has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise RegistryError(
            f"{ref}: no such model repository on the Hub (or it is private: log in)"
        ) from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline else "the Hub cannot be reached"
        raise RegistryError(
            f"{ref}: not in the Hugging Face cache ({_cache_dir()}) and {why}; download it once with network "
            "access, or load the folder itself with sseft.load('path/to/folder')"
        ) from None
    except OSError as e:  # network errors (requests/httpx) are OSErrors: one line
        raise RegistryError(f"{ref}: could not download from the Hub ({type(e).__name__}: {e})") from None
    return Path(str(path))


def load_hf(ref: str, device: str = "cpu", *, verify: bool = True) -> Any:
    """A ready model from an `hf:` reference (see the module docstring)."""
    from .artifact import load_artifact

    path = resolve_hf(ref)
    if not (path / CONFIG).is_file():
        raise IntegrityError(f"{ref}: the repository has no {CONFIG}; it is not an sseft model folder")
    model = load_artifact(path, device, verify=verify)
    if model.artifact_info is not None:  # always set by load_artifact (declared Optional on SseftModel)
        # the snapshot folder is the commit hash
        model.artifact_info.source = f"{PREFIX}{parse_hf_ref(ref)[0]}@{path.name}"
    return model


def check_folder(directory: str | os.PathLike[str]) -> dict[str, str]:
    """Everything `sseft.load` checks on a folder, before it enters the registry: the checksums, then
    that config.json really rebuilds a model its weights fit (one-line IntegrityError otherwise)."""
    from .artifact import load_artifact

    d = Path(directory).expanduser()
    if d.is_dir() and not (d / CONFIG).exists() and (d / "sseft-onnx.json").is_file():
        raise IntegrityError(
            f"{d}: an ONNX export, not a model folder; predict with it (--runtime onnx) or import the "
            "folder written by `sseft models export REF DIR` (without --format onnx)"
        )
    sums = check_dir(d)
    load_artifact(d, verify=False)  # checksums were just checked; this checks config vs weights
    return sums
