"""The registry under OS faults: a full disk (ENOSPC), a read-only filesystem (EROFS) and missing
permissions (EACCES) at each write step of publish, export, rm, gc and save. Each ends in one line
`error: FILE: what happened; what to do` with exit code 1 and nothing half-written; a failure after
a version is in place is not a failure.

The tests run as root, where chmod cannot make a directory read-only, so the faults are injected
with monkeypatch (the publish steps through the registry's FAULT_HOOK); one test uses a real
read-only directory and runs only when not root.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from regtools import make_model

import sseft
from sseft.cli.main import cli
from sseft.core.errors import StorageError
from sseft.registry import storage as storage_mod
from sseft.registry import store as store_mod
from sseft.registry.store import Registry

STEPS = ["staged", "written", "verified", "fsynced", "locked", "numbered", "renamed", "refs"]
COMMITTED = ("renamed", "refs")  # the version directory is in place from here on


def oserror(code: int, filename: str | None = None) -> OSError:
    return OSError(code, os.strerror(code), filename)


@pytest.fixture
def art(engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sseft.save(make_model(engine, "regression", 2), tmp_path_factory.mktemp("src") / "art")


def home() -> Path:
    return Path(os.environ["SSEFT_HOME"])


def run(*args: str):
    return CliRunner().invoke(cli, ["models", *args])


def one_error_line(r, *fragments: str) -> str:
    """The output is exactly one `error: ...` line holding every fragment; no traceback."""
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert "Traceback" not in r.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def leftovers() -> list[str]:
    """Anything a publish may leave behind: staging entries, temp files of refs.json writes."""
    staging = home() / ".staging"
    out = [p.name for p in staging.iterdir()] if staging.is_dir() else []
    return out + [p.name for p in home().glob("models/*/.refs.json.*tmp*")]


def fail_refs_writes(m: pytest.MonkeyPatch) -> None:
    """A full disk while refs.json is written: its temp file is never renamed into place."""
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst).name == "refs.json":
            raise oserror(errno.ENOSPC)
        return real(src, dst, *a, **k)

    m.setattr(os, "replace", replace)


# -- publish ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("step", STEPS)
def test_disk_full_at_each_publish_step(art: Path, step: str, monkeypatch) -> None:
    def hook(s: str) -> None:
        if s == step:
            raise oserror(errno.ENOSPC)

    monkeypatch.setattr(store_mod, "FAULT_HOOK", hook)
    r = run("publish", str(art), "full")
    monkeypatch.setattr(store_mod, "FAULT_HOOK", None)
    if step in COMMITTED:  # version 1 is valid and visible: report success, never a duplicate later
        assert r.exit_code == 0 and "published full@1" in r.output, r.output
        assert [e.ref for e in sseft.list_models()] == ["full@1"]
    else:
        one_error_line(r, ".staging", "No space left on device", "free disk space", "nothing was published")
        assert sseft.list_models() == []
    assert leftovers() == []
    assert sseft.publish(art, "full") == ("full@2" if step in COMMITTED else "full@1")
    refs = json.loads((home() / "models/full/refs.json").read_text())
    assert refs["last_version"] == (2 if step in COMMITTED else 1)


def test_disk_full_while_copying_leaves_nothing(art: Path, monkeypatch) -> None:
    """A copy that dies half-way through the weights: the partial file goes with its staging dir."""
    real = shutil.copyfile

    def copyfile(src, dst, *a, **k):
        if str(src).endswith("model.safetensors"):
            Path(dst).write_bytes(Path(src).read_bytes()[:100])
            raise oserror(errno.ENOSPC)
        return real(src, dst, *a, **k)

    monkeypatch.setattr(storage_mod.shutil, "copyfile", copyfile)
    r = run("publish", str(art), "half")
    one_error_line(r, str(home() / ".staging"), "No space left on device", "free disk space")
    assert sseft.list_models() == [] and leftovers() == []


def test_disk_full_while_writing_refs_still_publishes_and_repairs(art: Path, monkeypatch) -> None:
    """refs.json cut short by a full disk: the publish stands, the half-written temp file is gone,
    refs.json is never half-written, and the next publish repairs it."""
    assert sseft.publish(art, "idx") == "idx@1"
    with monkeypatch.context() as m:
        fail_refs_writes(m)
        r = run("publish", str(art), "idx")
    assert r.exit_code == 0 and "published idx@2" in r.output, r.output
    assert "could not update" in r.output and "repaired on the next" in r.output  # a warning, not an error
    assert leftovers() == []
    refs_path = home() / "models/idx/refs.json"
    assert json.loads(refs_path.read_text())["last_version"] == 1  # old but whole
    assert Registry().resolve("idx").version == 2  # latest comes from the versions on disk
    assert sseft.publish(art, "idx") == "idx@3"
    assert json.loads(refs_path.read_text())["last_version"] == 3


def test_leftovers_of_killed_publishes_and_refs_writes_go_with_the_next_publish(art: Path) -> None:
    sseft.publish(art, "old")
    staging = home() / ".staging"
    (staging / "old-deadbeef0000").mkdir()  # a publisher killed mid-copy (its lock is free)
    (staging / "old-deadbeef0000" / "model.safetensors").write_bytes(b"half")
    (staging / "trash-0123456789ab").mkdir()  # an rm killed before its delete finished
    (staging / "old-cafe00000000.lock").write_text("")
    (home() / "models/old/.refs.json.tmp-dead").write_text('{"last_v')  # a killed refs write
    assert sseft.publish(art, "other") == "other@1"  # another name: the staging sweep is global
    assert sorted(p.name for p in staging.iterdir()) == []
    assert sseft.publish(art, "old") == "old@2"  # the name's own temp files go under its lock
    assert leftovers() == []


def test_repaired_refs_after_a_kill_between_rename_and_refs(art: Path) -> None:
    """A publisher killed after the rename leaves refs.json behind the versions on disk; gc
    rewrites it, and numbering never reuses a number."""
    sseft.publish(art, "lag")
    mdir = home() / "models/lag"
    shutil.copytree(mdir / "1", mdir / "2")  # what a kill after "renamed" looks like
    assert json.loads((mdir / "refs.json").read_text())["last_version"] == 1
    assert Registry().resolve("lag").version == 2
    Registry().gc()
    assert json.loads((mdir / "refs.json").read_text())["last_version"] == 2
    assert sseft.publish(art, "lag") == "lag@3"


# -- export, rm, gc, save ----------------------------------------------------------------------------
def test_export_to_a_full_disk_leaves_no_partial_directory(art: Path, tmp_path: Path, monkeypatch) -> None:
    sseft.publish(art, "exp")
    real = shutil.copyfile

    def copyfile(src, dst, *a, **k):
        if str(src).endswith("model.safetensors"):
            Path(dst).write_bytes(b"partial")
            raise oserror(errno.ENOSPC)
        return real(src, dst, *a, **k)

    monkeypatch.setattr(storage_mod.shutil, "copyfile", copyfile)
    out = tmp_path / "out" / "exported"
    r = run("export", "exp", str(out))
    one_error_line(r, str(out), "No space left on device", "free disk space", "nothing was exported")
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_export_to_a_read_only_place(art: Path, tmp_path: Path, monkeypatch) -> None:
    sseft.publish(art, "exp")
    out = tmp_path / "ro" / "exported"

    def mkdir(self, *a, **k):
        raise oserror(errno.EROFS, str(self))

    monkeypatch.setattr(Path, "mkdir", mkdir)
    r = run("export", "exp", str(out))
    one_error_line(r, "Read-only file system", "choose a writable location")
    assert not out.exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_rm_on_a_read_only_or_forbidden_registry_changes_nothing(art: Path, code: int, monkeypatch) -> None:
    sseft.publish(art, "keep")
    sseft.publish(art, "keep")
    Registry().tag("keep@1", "prod")

    def rename(self, target):
        raise oserror(code, str(self))

    with monkeypatch.context() as m:
        m.setattr(Path, "rename", rename)
        r = run("rm", "keep@1")
    hint = "choose a writable location" if code == errno.EROFS else "check the permissions"
    one_error_line(r, str(home() / "models/keep/1"), os.strerror(code), hint, "nothing was removed")
    assert [e.ref for e in sseft.list_models()] == ["keep@1", "keep@2"]
    assert Registry().resolve("keep@prod").version == 1  # the alias is back


def test_rm_of_every_version_says_what_went_when_it_stops_half_way(art: Path, monkeypatch) -> None:
    for _ in range(3):
        sseft.publish(art, "many")
    real = Path.rename

    def rename(self, target):
        if self.name == "2":
            raise oserror(errno.EACCES, str(self))
        return real(self, target)

    with monkeypatch.context() as m:
        m.setattr(Path, "rename", rename)
        r = CliRunner().invoke(cli, ["models", "rm", "many", "--yes"])
    one_error_line(r, "many/2: Permission denied", "removed so far: many@1")
    assert [e.ref for e in sseft.list_models()] == ["many@2", "many@3"]


def test_rm_on_a_full_disk_removes_nothing(art: Path, monkeypatch) -> None:
    """refs.json is written before the version is moved away, so ENOSPC stops rm before any change."""
    sseft.publish(art, "keep")
    Registry().tag("keep@1", "prod")
    with monkeypatch.context() as m:
        fail_refs_writes(m)
        r = run("rm", "keep@1")
    one_error_line(r, "refs.json", "No space left on device", "free disk space")
    assert Registry().resolve("keep@prod").version == 1 and leftovers() == []


def test_gc_without_permission(art: Path, monkeypatch) -> None:
    sseft.publish(art, "g")
    real = Path.iterdir

    def iterdir(self):
        if self.name == "models":
            raise oserror(errno.EACCES, str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    r = run("gc")
    one_error_line(r, str(home() / "models"), "Permission denied", "check the permissions")


def test_save_on_a_full_disk_leaves_nothing(engine, tmp_path: Path, monkeypatch) -> None:
    import safetensors.torch

    def save_model(*a, **k):
        raise oserror(errno.ENOSPC)

    monkeypatch.setattr(safetensors.torch, "save_model", save_model)
    target = tmp_path / "saved"
    with pytest.raises(
        StorageError, match=r"saved: No space left on device; free disk space.*nothing was written"
    ):
        sseft.save(make_model(engine, "regression", 2), target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_real_read_only_registry(art: Path) -> None:
    sseft.publish(art, "ro")
    dirs = [home(), *(p for p in home().rglob("*") if p.is_dir())]
    for d in dirs:
        os.chmod(d, 0o555)
    try:
        r = run("publish", str(art), "ro")
        one_error_line(r, "Permission denied", "check the permissions")
    finally:
        for d in dirs:
            os.chmod(d, 0o755)
    assert [e.ref for e in sseft.list_models()] == ["ro@1"]
