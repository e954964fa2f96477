"""Artifact integrity without torch: checksums, the safetensors header, the shape of config.json.

An artifact directory holds CONFIG, WEIGHTS, CARD and CHECKSUMS. `verify_dir` returns a list of
problems (empty: fine) and `check_dir` raises IntegrityError naming the first bad file. Both only
read bytes and JSON, so `sseft models verify/list` and publishing stay fast and never import torch.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sseft.core.errors import IntegrityError
from sseft.core.files import fsync_dir, sha256_file
from sseft.core.specs import FusionConfig, ModalitySpec

FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CARD = "README.md"
CHECKSUMS = "checksums.json"
# Files every artifact must list in its checksums (the card is optional for hand-made artifacts).
REQUIRED = (CONFIG, WEIGHTS)


def write_checksums(directory: Path) -> dict[str, str]:
    """Hash every regular file of `directory` (except CHECKSUMS itself) into CHECKSUMS."""
    files = {
        p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name != CHECKSUMS
    }
    data = {"algorithm": "sha256", "files": files}
    (directory / CHECKSUMS).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return files


def read_checksums(directory: Path) -> dict[str, str]:
    """The {file name: sha256} map of an artifact, validated (plain names only, no paths)."""
    path = directory / CHECKSUMS
    if not path.is_file():
        raise IntegrityError(
            f"{path}: missing; this is not a complete sseft artifact (write it with sseft.save or "
            "`sseft models export`, or load it with verify=False if you trust it)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if data.get("algorithm") != "sha256" or not isinstance(files, dict):
            raise ValueError("expected {'algorithm': 'sha256', 'files': {...}}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{path}: unreadable checksum list ({e}); the artifact is damaged") from None
    for name, digest in files.items():
        # A checksum list must never make us open a file outside the artifact directory.
        if (
            not isinstance(name, str)
            or name in ("", ".", "..")
            or "/" in name
            or "\\" in name
            or name == CHECKSUMS
        ):
            raise IntegrityError(f"{path}: invalid file name {name!r} in the checksum list")
        if not isinstance(digest, str) or len(digest) != 64:
            raise IntegrityError(f"{path}: invalid sha256 for {name!r}")
    missing = [n for n in REQUIRED if n not in files]
    if missing:
        raise IntegrityError(f"{path}: does not list {', '.join(missing)}; the artifact is incomplete")
    return files


def safetensors_header(path: Path) -> dict[str, Any]:
    """Parse and sanity-check a .safetensors header; raise IntegrityError if the file is cut or garbled.

    Layout: 8-byte little-endian header length N, N bytes of JSON, then the tensor data; every
    tensor's data_offsets must lie inside the data section and the last one must end at EOF.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise IntegrityError(f"{path}: truncated ({size} bytes); not a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100_000_000:
            raise IntegrityError(
                f"{path}: header length {n} exceeds the file size {size}; the file is truncated or not safetensors"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as e:
        raise IntegrityError(f"{path}: unreadable safetensors header ({e})") from None
    data_len = size - 8 - n
    end = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            start, stop = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"{path}: tensor {key!r} has no valid data_offsets") from None
        if not 0 <= start <= stop <= data_len:
            raise IntegrityError(
                f"{path}: tensor {key!r} lies past the end of the file; the file is truncated"
            )
        end = max(end, stop)
    if end != data_len:
        raise IntegrityError(
            f"{path}: {data_len - end} stray bytes after the last tensor; the file is damaged"
        )
    return header


def check_config(data: Any, path: Path) -> None:
    """Check the shape of config.json without building the model (full validation happens at load)."""
    if not isinstance(data, dict):
        raise IntegrityError(f"{path}: the top level must be a JSON object")
    fv = data.get("format_version")
    if fv != FORMAT_VERSION:
        hint = (
            "it was written by a newer sseft; upgrade sseft"
            if isinstance(fv, int) and fv > FORMAT_VERSION
            else ""
        )
        raise IntegrityError(
            f"{path}: format_version {fv!r} is not supported (this sseft reads {FORMAT_VERSION}) {hint}"
        )
    model = data.get("model")
    if not isinstance(model, dict):
        raise IntegrityError(
            f"{path}: missing the 'model' section (modalities, fusion, head, task, label_names)"
        )
    missing = [k for k in ("modalities", "head", "task", "label_names") if k not in model]
    if missing:
        raise IntegrityError(f"{path}: model section lacks {', '.join(missing)}")
    try:
        for m in model["modalities"]:
            ModalitySpec.model_validate(m)
        FusionConfig.model_validate(model.get("fusion", {}))
    except (ValidationError, TypeError) as e:
        raise IntegrityError(
            f"{path}: invalid modality or fusion config: {' '.join(str(e).split())}"
        ) from None
    head = model["head"]
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        raise IntegrityError(f"{path}: model.head must be an object with a 'name'")
    # The task type is free-form (a head may bring a new one); the head named in model.head defines it.
    if not isinstance(model["task"], str) or not model["task"].strip():
        raise IntegrityError(f"{path}: model.task must be a non-empty string (the head's task type)")
    labels = model["label_names"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise IntegrityError(f"{path}: model.label_names must be a non-empty list of strings")


def read_config(directory: Path) -> dict[str, Any]:
    """config.json as a dict, shape-checked (no checksum check: see `check_dir`)."""
    path = directory / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrityError(
            f"{path}: missing; an artifact needs config.json and model.safetensors"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{path}: not valid JSON ({e})") from None
    check_config(data, path)
    return data


def check_dir(directory: str | os.PathLike[str]) -> dict[str, str]:
    """Verify an artifact directory; return its checksums or raise IntegrityError naming the bad file."""
    d = Path(directory)
    if not d.is_dir():
        what = "a file" if d.exists() else "missing"
        raise IntegrityError(
            f"{d}: {what}; an artifact is a directory with config.json and model.safetensors"
        )
    files = read_checksums(d)
    for name, digest in files.items():
        p = d / name
        if not p.is_file():
            raise IntegrityError(f"{p}: listed in {CHECKSUMS} but missing; the artifact is incomplete")
        if sha256_file(p) != digest:
            raise IntegrityError(
                f"{p}: sha256 does not match {CHECKSUMS}; the file is corrupt, truncated or was edited "
                "(re-export or re-publish the model)"
            )
    read_config(d)
    safetensors_header(d / WEIGHTS)
    return files


def verify_dir(directory: str | os.PathLike[str]) -> list[str]:
    """Problems of an artifact directory as messages (empty list: it verifies)."""
    try:
        check_dir(directory)
    except IntegrityError as e:
        return [str(e)]
    return []


def fsync_tree(directory: Path) -> None:
    """fsync every file of a directory and the directory itself (durable before a rename)."""
    for p in directory.iterdir():
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(directory)
