"""The local model registry: named, versioned artifacts under one root, published atomically.

    $SSEFT_HOME/models/<name>/<N>/       version N of <name> (an artifact directory)
    $SSEFT_HOME/models/<name>/refs.json  {"last_version": N, "aliases": {"prod": 3}}
    $SSEFT_HOME/.locks/<name>.lock       serialises version numbering and alias edits per name
    $SSEFT_HOME/.staging/<id>/ + <id>.lock   publishes in progress (the lock is held while writing)

Publishing writes into .staging (same filesystem), verifies, fsyncs, then takes the name's lock,
picks N and renames the staging directory to models/<name>/<N>: a version is either complete or
absent. A publisher that dies leaves only a staging directory whose lock nobody holds; `gc` removes
those, and so does the next publish (no manual `gc` needed). References are validated as strings
(names.py) before any path is built.

Once the rename has happened the version exists: a failure while recording it in refs.json (a full
disk, say) is logged and the publish still succeeds. refs.json's `last_version` is derived state,
read as max(recorded, versions on disk) and rewritten by the next publish, tag, rm or gc, which
also remove the temp files of refs writes that were killed. OS errors (full disk, read-only
filesystem, permissions) become one-line StorageErrors naming the file and what to do.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from filelock import FileLock

from sseft.core.errors import RegistryError, SseftError, UnknownNameError, os_errors
from sseft.core.files import atomic_write_json, fsync_dir
from sseft.core.plugins import unknown_name_message

from .card import write_card
from .integrity import check_dir, fsync_tree, verify_dir, write_checksums
from .names import NAME_RE, VERSION_RE, ModelRef, parse_ref, validate_alias
from .storage import (
    ModelEntry,
    copy_artifact_files,
    registry_root,
    summary_of,
    sweep_staging,
)

__all__ = ["FAULT_HOOK", "ModelEntry", "Registry", "copy_artifact_files", "registry_root"]

# Fault-injection seam for tests: called with the name of each publish step as it completes
# ("staged", "written", "verified", "fsynced", "locked", "numbered", "renamed", "refs"). A hook
# that raises or calls os._exit simulates a crash at that point.
FAULT_HOOK: Callable[[str], None] | None = None
LOCK_TIMEOUT = 120.0
REFS = "refs.json"
# Temp files of killed refs.json writes: core/files.py names them `.refs.json.<pid>.tmp`, older
# releases `.refs.json.tmp-<hex>`; both are swept.
_REFS_TMP = f".{REFS}.*tmp*"
log = logging.getLogger("sseft.registry")


def _step(name: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(name)


class Registry:
    """Named, versioned artifacts under `root` (default: registry_root(), read when first used)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._root = Path(root) if root is not None else None

    # -- paths (only ever built from validated names) ---------------------------------------------
    @property
    def root(self) -> Path:
        return self._root if self._root is not None else registry_root()

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def _lock(self, name: str) -> FileLock:
        locks = self.root / ".locks"
        with os_errors(locks):
            locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / f"{name}.lock"), timeout=LOCK_TIMEOUT)

    def _write_refs(self, name: str, refs: dict[str, Any]) -> None:
        """Under the name's lock: drop temp files of killed refs writes, then write refs.json."""
        mdir = self.models_dir / name
        for p in mdir.glob(_REFS_TMP):
            p.unlink(missing_ok=True)
        with os_errors(mdir / REFS):
            atomic_write_json(mdir / REFS, refs, indent=2)

    def _refs(self, name: str) -> dict[str, Any]:
        """refs.json, with `last_version` never below the newest version on disk (a publish whose
        refs write failed after the rename is thereby repaired as soon as anyone reads it)."""
        p = self.models_dir / name / REFS
        on_disk = max(self.versions(name), default=0)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            return {
                "last_version": max(int(data.get("last_version", 0)), on_disk),
                "aliases": dict(data.get("aliases", {})),
            }
        except FileNotFoundError:
            return {"last_version": on_disk, "aliases": {}}
        except (ValueError, TypeError, AttributeError) as e:
            raise RegistryError(
                f"{p}: unreadable ({e}); fix or delete it (aliases of {name!r} are lost)"
            ) from None

    def versions(self, name: str) -> list[int]:
        """Published versions of `name`, ascending (empty if none)."""
        d = self.models_dir / name
        if not d.is_dir():
            return []
        return sorted(int(p.name) for p in d.iterdir() if VERSION_RE.fullmatch(p.name) and p.is_dir())

    def names(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.models_dir.iterdir() if NAME_RE.fullmatch(p.name) and self.versions(p.name)
        )

    # -- resolving --------------------------------------------------------------------------------
    def resolve(self, ref: str | ModelRef) -> ModelEntry:
        """The entry a reference points at: local versions first, then plugin-shipped artifacts."""
        r = ref if isinstance(ref, ModelRef) else parse_ref(ref)  # validated before any filesystem access
        versions = self.versions(r.name)
        if versions:
            refs = self._refs(r.name)
            if r.version is not None:
                v = r.version
                if v not in versions:
                    raise UnknownNameError(
                        f"model {r.name!r} has no version {v}; published versions: {', '.join(map(str, versions))}"
                    )
            elif r.alias is not None:
                if r.alias not in refs["aliases"]:
                    known = ", ".join(sorted(refs["aliases"])) or "none"
                    raise UnknownNameError(
                        f"model {r.name!r} has no alias {r.alias!r} (aliases: {known}); see `sseft models tag`"
                    )
                v = int(refs["aliases"][r.alias])
                if v not in versions:
                    raise RegistryError(
                        f"alias {r.name}@{r.alias} points at version {v}, which was removed; re-tag it"
                    )
            else:
                v = versions[-1]
            return self._entry(r.name, v, versions, refs)
        plugin = self._plugin_models().get(r.name)
        if plugin is not None:
            if not r.is_latest:
                raise UnknownNameError(
                    f"model {r.name!r} is shipped by a plugin and has no versions or aliases; use {r.name!r}"
                )
            return plugin
        names = self.names() + [*self._plugin_models()]
        raise UnknownNameError(unknown_name_message("model", r.name, names))

    def _entry(self, name: str, v: int, versions: list[int], refs: dict[str, Any]) -> ModelEntry:
        path = self.models_dir / name / str(v)
        aliases = sorted(a for a, x in refs["aliases"].items() if int(x) == v)
        return ModelEntry(name, v, path, "local", aliases, v == versions[-1], summary_of(path))

    def _plugin_models(self) -> dict[str, ModelEntry]:
        """Artifacts shipped by plugins through the `register_models` hook."""
        from sseft.core.plugins import get_manager

        pm = get_manager()
        out = {}
        for name, obj in pm.items("model"):
            path = Path(obj.path)
            out[name] = ModelEntry(
                name, None, path, f"plugin:{pm.provider('model', name)}", [], True, summary_of(path)
            )
        return out

    def list(self, pattern: str = "*") -> builtins.list[ModelEntry]:
        """Every local version and plugin artifact whose name (or name@version, if the pattern has
        an '@') matches the fnmatch pattern."""
        out: builtins.list[ModelEntry] = []
        for name in self.names():
            versions, refs = self.versions(name), self._refs(name)
            out += [self._entry(name, v, versions, refs) for v in versions]
        local = {e.name for e in out}
        out += [e for n, e in sorted(self._plugin_models().items()) if n not in local]
        key = (lambda e: e.ref) if "@" in pattern else (lambda e: e.name)
        return [e for e in out if fnmatchcase(key(e), pattern)]

    # -- publishing -------------------------------------------------------------------------------
    def publish_dir(self, src: str | os.PathLike[str], name: str) -> ModelEntry:
        """Publish a copy of the artifact directory `src` as the next version of `name`."""
        name = _plain_name(name)  # validated before any filesystem access
        src_path = Path(src).expanduser()
        check_dir(src_path)  # refuse to publish something that would not load
        return self.publish_with(lambda d: copy_artifact_files(src_path, d), name)

    def publish_with(self, fill: Callable[[Path], None], name: str) -> ModelEntry:
        """Publish whatever `fill(staging_dir)` writes as the next version of `name`, atomically."""
        name = _plain_name(name)
        staging_root = self.root / ".staging"
        nothing = f"nothing was published as {name!r}"
        with os_errors(staging_root, nothing):
            staging_root.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()  # what killed publishers left behind
        sid = f"{name}-{uuid.uuid4().hex[:12]}"
        staging = staging_root / sid
        lock_path = staging_root / f"{sid}.lock"
        try:
            # Held for the whole publish: gc removes only staging dirs whose lock is free (owner gone).
            # Not timeout=0: another publisher's sweep may be probing this fresh lock file for a moment
            # (seen: 8 concurrent publishers, one lost its own lock to a probe and failed).
            with os_errors(staging, nothing), FileLock(str(lock_path), timeout=10):
                staging.mkdir()
                try:
                    _step("staged")
                    fill(staging)
                    _step("written")
                    check_dir(staging)
                    # every published version carries a model card built from what it records (card.py);
                    # the checksums are rewritten to cover it, after the files above were verified
                    write_card(staging, name)
                    write_checksums(staging)
                    _step("verified")
                    fsync_tree(staging)
                    _step("fsynced")
                    version = self._commit(staging, name)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
        finally:
            lock_path.unlink(missing_ok=True)
        try:
            return self.resolve(ModelRef(name, version=version))
        except (OSError, SseftError):  # published all the same: describe it from what we know
            path = self.models_dir / name / str(version)
            return ModelEntry(name, version, path, latest=True, summary=summary_of(path))

    def _commit(self, staging: Path, name: str) -> int:
        """Under the name's lock: pick the next version, rename staging into place, record it.

        Everything before the rename may fail (the caller removes the staging directory, nothing
        is visible); after it the version exists and a failure to record it is only logged:
        reporting failure then would make a retrying caller publish a duplicate.
        """
        with self._lock(name):
            _step("locked")
            mdir = self.models_dir / name
            mdir.mkdir(parents=True, exist_ok=True)
            refs = self._refs(name)
            # Never reuse a number, even of a removed version (a cached `name@3` must stay unique).
            version = max([refs["last_version"], *self.versions(name)]) + 1
            _step("numbered")
            staging.rename(mdir / str(version))
            try:
                fsync_dir(mdir)
                _step("renamed")
                refs["last_version"] = version
                self._write_refs(name, refs)
                _step("refs")
            except Exception as e:
                log.warning(
                    "published %s@%d, but could not update %s (%s); it is repaired on the next "
                    "publish, tag, rm or gc",
                    name,
                    version,
                    mdir / REFS,
                    e,
                )
        return version

    # -- aliases, removal -------------------------------------------------------------------------
    def tag(self, ref: str, alias: str) -> ModelEntry:
        """Point `name@alias` at the version `ref` resolves to (moving it if it exists)."""
        r = parse_ref(ref)
        validate_alias(alias)
        entry = self.resolve(r)
        if entry.version is None:
            raise RegistryError(
                f"{entry.name!r} is shipped by a plugin ({entry.source}); only local models can be tagged"
            )
        with self._lock(r.name):
            refs = self._refs(r.name)
            refs["aliases"][alias] = entry.version
            self._write_refs(r.name, refs)
        return self.resolve(ModelRef(r.name, version=entry.version))

    def remove(self, ref: str) -> builtins.list[str]:
        """`name@N`: that version; `name@alias`: the alias only; `name`: every version. Returns what went."""
        r = parse_ref(ref)
        with self._lock(r.name):
            versions = self.versions(r.name)
            if not versions:
                raise UnknownNameError(unknown_name_message("model", r.name, self.names()))
            refs = self._refs(r.name)
            mdir = self.models_dir / r.name
            if r.alias is not None:
                if refs["aliases"].pop(r.alias, None) is None:
                    raise UnknownNameError(f"model {r.name!r} has no alias {r.alias!r}")
                self._write_refs(r.name, refs)
                return [f"{r.name}@{r.alias}"]
            if r.version is not None and r.version not in versions:
                raise UnknownNameError(f"model {r.name!r} has no version {r.version}")
            doomed = versions if r.version is None else [r.version]
            # refs.json first (it needs space, the renames do not): a full disk then stops the
            # removal before anything changed. It keeps last_version, so numbers are never reused.
            before = {**refs, "aliases": dict(refs["aliases"])}
            refs["aliases"] = {a: v for a, v in refs["aliases"].items() if int(v) not in doomed}
            self._write_refs(r.name, refs)
            gone: builtins.list[int] = []
            try:
                for v in doomed:
                    done = ", ".join(f"{r.name}@{g}" for g in gone)
                    self._trash(mdir / str(v), f"removed so far: {done}" if gone else "nothing was removed")
                    gone.append(v)
            except BaseException:
                if not gone:  # nothing was removed: put the aliases back (best effort)
                    with contextlib.suppress(OSError, SseftError):
                        self._write_refs(r.name, before)
                raise
            return [f"{r.name}@{v}" for v in doomed]

    def _trash(self, path: Path, note: str = "nothing was removed") -> None:
        """Make `path` vanish atomically (rename into .staging), then delete it."""
        staging_root = self.root / ".staging"
        with os_errors(path, note):
            staging_root.mkdir(parents=True, exist_ok=True)
            gone = staging_root / f"trash-{uuid.uuid4().hex[:12]}"
            path.rename(gone)
        fsync_dir(path.parent)
        shutil.rmtree(gone, ignore_errors=True)  # already invisible; gc or the next publish finish it

    # -- maintenance ------------------------------------------------------------------------------
    def verify(self, pattern: str = "*") -> dict[str, builtins.list[str]]:
        """{ref: problems} for every listed artifact matching `pattern` (a reference or a wildcard)."""
        if not any(c in pattern for c in "*?["):
            e = self.resolve(pattern)
            return {e.ref: verify_dir(e.path)}
        return {e.ref: verify_dir(e.path) for e in self.list(pattern)}

    def gc(self) -> builtins.list[Path]:
        """Remove what crashed publishers left behind: staging dirs whose lock is free, stray temp
        files, names with no version left; rewrite stale refs.json files. Safe beside live publishers."""
        with os_errors(self.root, "check the registry folder (SSEFT_HOME)"):
            return self._gc()

    def _sweep_staging(self) -> None:
        """The staging part of gc, best effort (run by every publish: a full disk must not stop it)."""
        try:
            self._gc_staging()
        except OSError as e:
            log.debug("could not sweep %s: %s", self.root / ".staging", e)

    def _gc(self) -> builtins.list[Path]:
        removed = self._gc_staging()
        if self.models_dir.is_dir():
            for mdir in sorted(self.models_dir.iterdir()):
                if not NAME_RE.fullmatch(mdir.name) or not mdir.is_dir():
                    continue
                with self._lock(mdir.name):
                    for p in mdir.glob(_REFS_TMP):
                        p.unlink(missing_ok=True)
                        removed.append(p)
                    if not any(mdir.iterdir()):  # a publisher died between mkdir and rename
                        mdir.rmdir()
                        removed.append(mdir)
                        continue
                    self._repair_refs(mdir.name)
        return removed

    def _repair_refs(self, name: str) -> None:
        """Rewrite refs.json when it lags behind the versions on disk (a refs write that failed)."""
        p = self.models_dir / name / REFS
        try:
            recorded = int(json.loads(p.read_text(encoding="utf-8")).get("last_version", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            recorded = -1
        refs = self._refs(name)
        if recorded != refs["last_version"]:
            self._write_refs(name, refs)

    def _gc_staging(self) -> builtins.list[Path]:
        return sweep_staging(self.root / ".staging")

    def export(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a verified artifact to `dest` (new or empty directory), atomically."""
        entry = self.resolve(ref)
        check_dir(entry.path)
        target = Path(dest).expanduser().absolute()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise RegistryError(f"{target}: already exists and is not empty; choose a new directory")
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
        with os_errors(target, f"nothing was exported to {target}"):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            try:
                copy_artifact_files(entry.path, tmp)
                check_dir(tmp)
                fsync_tree(tmp)
                if target.exists():
                    target.rmdir()
                tmp.rename(target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return target


def _plain_name(name: str) -> str:
    """A publish target must be a bare name: versions are assigned, never chosen."""
    r = parse_ref(name)
    if not r.is_latest or "@" in name:
        raise RegistryError(
            f"publish to a bare name such as {r.name!r}, not {name!r}: the version number is assigned"
        )
    return r.name
