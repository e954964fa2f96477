"""Shared helpers for the Hugging Face encoders (text, speech): loading from a hub id or a local
directory with clear errors, and the identity part of a fingerprint (weights sha256 or revision)."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sseft.core.environment import hf_offline
from sseft.core.errors import ExtractionError
from sseft.core.files import sha256_file

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.pt", "*.pth")


@lru_cache(maxsize=32)
def _cached_sha256(path: str, _mtime: float = 0.0, _size: int = 0) -> str:
    """sha256 of a file (cached per path+mtime+size, so re-extraction does not re-hash GBs)."""
    return sha256_file(path)


def file_sha256(path: str | Path) -> str:
    p = Path(path)
    st = p.stat()
    return _cached_sha256(str(p.resolve()), st.st_mtime, st.st_size)


def dir_weights_sha256(path: Path) -> str:
    """One sha256 over every weight file of a model directory (name + content hash, sorted)."""
    files = sorted({f for pat in WEIGHT_PATTERNS for f in path.glob(pat) if f.is_file()})
    if not files:
        raise ExtractionError(
            f"{path}: no weight files (*.safetensors / pytorch_model.bin) in this model directory"
        )
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(file_sha256(f).encode())
    return h.hexdigest()


def identity(model: str, resolved: str, hf_model: Any, revision: str | None) -> dict[str, Any]:
    """{"model": ..., "weights_sha256": ...} for a local dir, {"model": ..., "revision": ...} for a hub id."""
    p = Path(resolved)
    if p.is_dir():
        return {
            "model": model if model != resolved else str(p.resolve()),
            "weights_sha256": dir_weights_sha256(p),
        }
    rev = revision or getattr(hf_model.config, "_commit_hash", None) or "unknown"
    return {"model": model, "revision": rev}


def extractor_fingerprint(
    modality: str, ident: dict[str, Any], cfg: Any, settings: dict[str, Any]
) -> dict[str, Any]:
    """An extractor's fingerprint: {"modality", its weights' identity, "config": the config record
    (`config_record`), "settings": what it computes with}; two stores mix only on equal ones."""
    return {"modality": modality, **ident, "config": config_record(cfg), "settings": settings}


def config_record(cfg: Any, exclude: tuple[str, ...] = ("batch_size",)) -> dict[str, Any]:
    """The extractor config as JSON, for the fingerprint's `config` key: lets a trained model rebuild
    exactly this extractor (`sseft predict`). Run-time-only fields are left out; values naming an
    existing local file or folder are made absolute, so the record works from any directory."""
    data = cfg.model_dump(mode="json", exclude=set(exclude))
    for k, v in data.items():
        if isinstance(v, str) and v and "://" not in v and Path(v).expanduser().exists():
            data[k] = str(Path(v).expanduser().resolve())
    return data


_OFFLINE_HINT = (
    "pass a local model directory saved with save_pretrained (e.g. --set text.model=/path/to/dir; "
    "for text, text.model=minilm-offline works without any download), or set HF_HUB_OFFLINE=1 to "
    "use only models already in the Hugging Face cache"
)
# The first failed hub probe of this process: every later hub id fails at once, not after retries.
_HUB_DOWN: list[str] = []


def hub_unreachable(repo: str, revision: str | None) -> str | None:
    """None when the model hub answers (whatever it says about `repo`), else why it cannot be reached.

    One request with a short timeout and no retries: transformers itself retries a dead hub with
    back-off for half a minute or more per file before giving up.
    """
    if _HUB_DOWN:
        return _HUB_DOWN[0]
    from huggingface_hub import HfApi, constants

    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    try:
        HfApi(endpoint=endpoint).model_info(repo, revision=revision, timeout=5)
    except Exception as e:
        # Connection-level failures only; an HTTP answer (404, 401 gated...) means the hub is
        # up and transformers reports the real problem.
        names = {c.__name__ for c in type(e).__mro__}
        http_answer = getattr(e, "response", None) is not None and "HfHubHTTPError" in names
        if http_answer or not (
            isinstance(e, OSError) or names & {"TransportError", "ConnectionError", "Timeout"}
        ):
            return None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        _HUB_DOWN.append(f"the model hub {endpoint} is unreachable ({type(e).__name__}: {first})")
        return _HUB_DOWN[0]
    return None


def load_pretrained(factory: Any, resolved: str, revision: str | None, what: str) -> Any:
    """`factory.from_pretrained(resolved)` with one-line errors that say what to do offline.

    A hub id is first checked with one quick request: when the hub is unreachable the model is
    taken from the local Hugging Face cache if it is there, else the call fails at once with the
    offline hint (instead of half a minute of retries per file).
    """
    p = Path(resolved)
    looks_local = p.is_absolute() or resolved.startswith((".", "~")) or p.exists()
    if looks_local and not p.is_dir():
        raise ExtractionError(f"{what} {resolved!r}: no such model directory")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the extraction job has its own progress bar
    if not looks_local and not hf_offline():
        down = hub_unreachable(resolved, revision)
        if down is not None:
            try:
                return factory.from_pretrained(resolved, revision=revision, local_files_only=True)
            except OSError:
                raise ExtractionError(
                    f"cannot load {what} {resolved!r}: {down} and it is not in the local Hugging Face "
                    f"cache; {_OFFLINE_HINT}"
                ) from None
    try:
        return factory.from_pretrained(str(p.expanduser()) if looks_local else resolved, revision=revision)
    except OSError as e:
        hint = (
            " (HF_HUB_OFFLINE is set: pass a local directory saved with save_pretrained)"
            if hf_offline()
            else f" ({_OFFLINE_HINT})"
        )
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExtractionError(f"cannot load {what} {resolved!r}: {first}{hint}") from None


def hidden_layer(outputs: Any, layer: int) -> Any:
    """hidden_states[layer] (0 = embeddings, -1 = last layer) with an error naming the valid range."""
    hs = outputs.hidden_states
    if not -len(hs) <= layer < len(hs):
        raise ExtractionError(f"layer={layer} is out of range: this model has hidden states 0..{len(hs) - 1}")
    return hs[layer]
