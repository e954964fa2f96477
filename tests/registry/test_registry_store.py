"""The registry: names, versions, aliases, concurrent and interrupted publishing, gc, verify."""

from __future__ import annotations

import builtins
import contextlib
import json
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import pytest
import registry_workers
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st
from regtools import make_model

import sseft
from sseft.core.errors import IntegrityError, RegistryError, UnknownNameError
from sseft.registry import api
from sseft.registry import store as store_mod
from sseft.registry.names import ALIAS_RE, NAME_RE, looks_like_path, parse_ref
from sseft.registry.store import Registry

STEPS = ["staged", "written", "verified", "fsynced", "locked", "numbered", "renamed", "refs"]


@pytest.fixture
def art(engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sseft.save(make_model(engine, "regression", 2), tmp_path_factory.mktemp("src") / "art")


def _home() -> Path:
    return Path(os.environ["SSEFT_HOME"])


# -- names ------------------------------------------------------------------------------------
BAD_REFS = [
    "",
    "../x",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "..",
    ".hidden",
    "A",
    "a b",
    "x@",
    "x@../y",
    "x@0",
    "x@1/2",
    "x@latest/..",
    "é",
    "x" * 65,
    "a..b",
    "x@prod@1",
    "-x",
    "x\x00y",
    "evil\n",  # `re.match` + `$` accepts a trailing newline: names are validated with fullmatch
    "x@3\n",
    "x@prod\n",
    "\nx",
]


@contextlib.contextmanager
def no_fs():
    """Any filesystem access raises inside this block: names must be rejected before touching disk."""

    def boom(*a, **k):
        raise AssertionError(f"filesystem touched: {a[:1]}")

    with pytest.MonkeyPatch.context() as m:
        for fn in (
            "stat",
            "lstat",
            "open",
            "mkdir",
            "makedirs",
            "listdir",
            "scandir",
            "rename",
            "replace",
            "unlink",
        ):
            m.setattr(os, fn, boom)
        m.setattr(builtins, "open", boom)
        yield


@pytest.mark.parametrize("bad", BAD_REFS)
def test_bad_names_rejected_before_filesystem_access(bad: str, art: Path) -> None:
    reg = Registry()
    calls = [
        lambda: reg.resolve(bad),
        lambda: reg.publish_dir(art, bad),
        lambda: reg.remove(bad),
        lambda: reg.tag(bad, "prod"),
        lambda: reg.tag("ok@1", bad),
        lambda: sseft.publish(art, bad),
    ]
    if not looks_like_path(bad):  # a path-looking string is a directory for load(), by design
        calls.append(lambda: sseft.load(bad))
    errors = []
    with no_fs():
        for call in calls:
            try:
                call()
            except RegistryError as e:
                errors.append(str(e))
    assert len(errors) == len(calls) and all("invalid" in e for e in errors), errors


def test_publish_needs_a_bare_name(art: Path) -> None:
    for ref in ("m@3", "m@prod", "m@latest"):
        with pytest.raises(RegistryError, match="bare name"):
            sseft.publish(art, ref)
    assert not (_home() / "models").exists()


# Mostly well-formed references with, in about a third of the draws, one hostile character or
# fragment spliced in: most draws parse (and reach the safety assertions), the rest must be refused
# with a RegistryError and nothing else.
_HOSTILE = st.sampled_from(["/", "\\", "..", "\n", "\x00", " ", "A", "é", "@", "@@", "~", "\t", ""])
_NAMES = st.from_regex(NAME_RE, fullmatch=True)
_SELECTORS = st.one_of(
    st.just(""),
    st.just("@latest"),
    st.integers(1, 10**6).map(lambda v: f"@{v}"),
    st.from_regex(ALIAS_RE, fullmatch=True).map(lambda a: "@" + a),
)


@st.composite
def _refs(draw: st.DrawFn) -> str:
    text = draw(_NAMES) + draw(_SELECTORS)
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_HOSTILE) + text[at:]
    return text


@settings(max_examples=60, deadline=None)
@given(_refs())
def test_parsed_names_are_always_one_safe_path_component(text: str) -> None:
    try:
        r = parse_ref(text)
    except RegistryError as e:
        assert "invalid" in str(e) or "reserved" in str(e), str(e)
        assert any(c in text for c in "/\\\n\x00 A\té~@") or ".." in text, text
    else:
        assert NAME_RE.fullmatch(r.name) and ".." not in r.name, text
        assert "/" not in r.name and "\\" not in r.name and "\n" not in r.name
        assert r.alias is None or (ALIAS_RE.fullmatch(r.alias) and r.alias != "latest")
        assert str(r) == text or text.endswith("@latest")  # nothing was dropped or rewritten


def test_reference_strategy_mostly_reaches_the_assertions() -> None:
    """The property test above is only worth something if most draws parse."""
    accepted = []

    @settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate])
    @seed(0)  # the same draws every run: the share is a property of the strategy, not of luck
    @given(_refs())
    def sample(text: str) -> None:
        try:
            parse_ref(text)
            accepted.append(True)
        except RegistryError:
            accepted.append(False)

    sample()
    assert len(accepted) >= 100 and sum(accepted) / len(accepted) > 0.5, sum(accepted) / len(accepted)


def test_trailing_newline_is_refused_by_every_name_check() -> None:
    from sseft.core.features.index import check_safe_name
    from sseft.core.plugins import PluginInfo, PluginManager

    with pytest.raises(RegistryError, match="invalid model name 'evil\\\\n'"):
        parse_ref("evil\n")
    with pytest.raises(RegistryError, match="invalid alias 'prod\\\\n'"):
        Registry().tag("x", "prod\n")
    from sseft.core.errors import FeatureStoreError

    with pytest.raises(FeatureStoreError, match="is not allowed"):
        check_safe_name("split", "train\n")

    class Mod:
        name, dim, provides_cls, max_len, config_model = "evil\n", 4, False, 8, None

        def build_extractor(self, config=None, device="cpu"): ...

    with pytest.raises(ValueError, match="is invalid"):
        PluginManager().register("modality", Mod(), PluginInfo("p", "pkg", "1", "m"))


# -- versions, aliases, removal ------------------------------------------------------------------
def test_publish_resolve_tag_remove(art: Path, engine) -> None:
    assert sseft.publish(art, "demo") == "demo@1"
    assert sseft.publish(art, "demo") == "demo@2"
    reg = Registry()
    assert reg.resolve("demo").version == 2 and reg.resolve("demo@latest").version == 2
    reg.tag("demo@1", "prod")
    assert reg.resolve("demo@prod").version == 1
    reg.tag("demo", "prod")  # aliases move
    assert reg.resolve("demo@prod").version == 2
    assert [e.ref for e in sseft.list_models("de*")] == ["demo@1", "demo@2"]
    assert [e.ref for e in sseft.list_models("demo@2")] == ["demo@2"]
    assert sseft.list_models("other*") == []
    model = sseft.load("demo@prod")
    assert (model.artifact_info.name, model.artifact_info.version) == ("demo", 2)
    assert reg.remove("demo@2") == ["demo@2"]
    with pytest.raises(UnknownNameError, match="no alias 'prod'"):  # removed with its version
        reg.resolve("demo@prod")
    assert sseft.publish(art, "demo") == "demo@3"  # numbers are never reused
    assert reg.remove("demo") == ["demo@1", "demo@3"]
    with pytest.raises(UnknownNameError, match="unknown model 'demo'"):
        sseft.load("demo")
    assert sseft.publish(art, "demo") == "demo@4"


def test_unknown_names_suggest_and_hint_directories(art: Path, tmp_path: Path, monkeypatch) -> None:
    sseft.publish(art, "meld-text")
    with pytest.raises(UnknownNameError, match="did you mean 'meld-text'"):
        sseft.load("meld-txt")
    with pytest.raises(UnknownNameError, match="no version 7"):
        sseft.load("meld-text@7")
    shutil.copytree(art, tmp_path / "localdir")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownNameError, match="pass './localdir'"):
        sseft.load("localdir")
    assert sseft.load("./localdir").label_names == ["sentiment"]


def test_publishing_a_corrupt_directory_is_refused(art: Path) -> None:
    (art / "README.md").write_text("edited")
    with pytest.raises(IntegrityError, match=r"README\.md: sha256 does not match"):
        sseft.publish(art, "demo")
    assert Registry().list() == []


def test_registry_copy_tampered_after_publish_is_refused(art: Path) -> None:
    sseft.publish(art, "demo")
    p = Registry().resolve("demo").path / "model.safetensors"
    p.write_bytes(p.read_bytes()[:-8])
    assert Registry().verify("demo")["demo@1"]
    with pytest.raises(IntegrityError, match=r"demo/1/model\.safetensors"):
        sseft.load("demo")


def test_plugin_shipped_models_are_listed_and_load(art: Path, engine) -> None:
    from sseft.core.plugins import PluginInfo, get_manager

    class Shipped:
        name, path = "pretrained-demo", art

    class Plugin:
        @staticmethod
        def register_models(register) -> None:
            register(Shipped())

    get_manager().add_plugin(Plugin(), PluginInfo("shipper", "sseft-demo-models", "1.0", "x"))
    sseft.publish(art, "local-one")
    listed = {e.ref: e.source for e in sseft.list_models()}
    assert listed == {"local-one@1": "local", "pretrained-demo": "plugin:sseft-demo-models"}
    assert sseft.load("pretrained-demo").artifact_info.source == "plugin:sseft-demo-models"
    assert api.verify("pretrained-demo") == {"pretrained-demo": []}


# -- concurrency and crashes ---------------------------------------------------------------------
@pytest.mark.slow
def test_eight_concurrent_publishers_get_distinct_versions(art: Path) -> None:
    """All 8 are held at the commit step and released together (registry_workers), so a missing
    or broken per-name lock fails this test on every run."""
    ctx = mp.get_context("spawn")
    gate, numbered, out = ctx.Barrier(8), ctx.Barrier(8), ctx.Queue()
    args = (str(_home()), str(art), "race", gate, numbered, out, 3.0)
    procs = [ctx.Process(target=registry_workers.publish_held_at_commit, args=args) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    refs = sorted(out.get(timeout=5) for _ in range(8))
    assert [p.exitcode for p in procs] == [0] * 8, refs
    assert sorted(refs, key=lambda r: int(r.split("@")[1])) == [f"race@{i}" for i in range(1, 9)]
    assert all(not problems for problems in api.verify("race*").values())
    for r in refs:
        assert sseft.load(r).label_names == ["sentiment"]
    assert list((_home() / ".staging").iterdir()) == []


@pytest.mark.slow
def test_killed_publish_leaves_all_or_nothing(art: Path) -> None:
    ctx = mp.get_context("spawn")
    for step in STEPS:
        p = ctx.Process(
            target=registry_workers.publish_and_die_at, args=(str(_home()), str(art), "crashy", step)
        )
        p.start()
        p.join(timeout=60)
        assert p.exitcode == 17, step
    # "renamed" and "refs" died after the rename: those two versions are complete, the rest absent.
    listed = sseft.list_models("crashy")
    assert [e.ref for e in listed] == ["crashy@1", "crashy@2"]
    assert all(not v for v in api.verify("*").values())
    leftovers = list((_home() / ".staging").iterdir())
    assert leftovers, "the killed publishers should have left staging directories"
    # The next publish cleans up after them (no manual gc) and numbers on from the versions on disk.
    assert sseft.publish(art, "crashy") == "crashy@3"
    assert list((_home() / ".staging").iterdir()) == []
    assert json.loads((_home() / "models/crashy/refs.json").read_text())["last_version"] == 3
    assert Registry().gc() == []


@pytest.mark.parametrize("step", STEPS)
def test_failed_publish_in_process_cleans_up(art: Path, step: str, monkeypatch) -> None:
    """Before the rename a failure leaves nothing; after it the version exists, so the publish
    succeeds (a caller that retried would publish a duplicate) and refs.json is repaired later."""

    class Boom(RuntimeError):
        pass

    def hook(s: str) -> None:
        if s == step:
            raise Boom(s)

    monkeypatch.setattr(store_mod, "FAULT_HOOK", hook)
    if step in ("renamed", "refs"):
        assert sseft.publish(art, "flaky") == "flaky@1"
    else:
        with pytest.raises(Boom):
            sseft.publish(art, "flaky")
    monkeypatch.setattr(store_mod, "FAULT_HOOK", None)
    refs = [e.ref for e in sseft.list_models()]
    assert refs == (["flaky@1"] if step in ("renamed", "refs") else [])
    assert all(not v for v in api.verify("*").values())
    assert list((_home() / ".staging").iterdir()) == []
    assert sseft.publish(art, "flaky") == ("flaky@2" if refs else "flaky@1")


def test_gc_spares_live_publishers(art: Path, monkeypatch) -> None:
    seen = {}

    def hook(s: str) -> None:
        if s == "fsynced":  # mid-publish: gc must not remove our staging directory
            seen["removed"] = Registry().gc()

    monkeypatch.setattr(store_mod, "FAULT_HOOK", hook)
    assert sseft.publish(art, "live") == "live@1"
    assert seen["removed"] == []


def test_dir_of_the_package_shows_the_lazy_api() -> None:
    assert {"load", "list_models", "save", "publish", "__version__"} <= set(dir(sseft))
    assert "annotations" not in dir(sseft)


def test_a_sweep_probing_a_fresh_publish_lock_does_not_fail_that_publish(art: Path, monkeypatch) -> None:
    """Every publish sweeps `.staging` and probes other publishers' lock files (free = owner gone). A
    probe that holds a fresh lock file for a moment, just as its owner takes it, must only delay the
    owner, never fail it (seen: 1 of 8 concurrent publishers lost its own lock and failed)."""
    import threading
    import uuid

    from filelock import FileLock

    class FixedId:
        hex = "0123456789abcdef"

    monkeypatch.setattr(uuid, "uuid4", lambda: FixedId())
    staging = _home() / ".staging"
    staging.mkdir(parents=True)
    taken, release = threading.Event(), threading.Event()

    def probe() -> None:  # what another publisher's sweep does with a lock file it finds
        with FileLock(str(staging / "probed-0123456789ab.lock"), timeout=0):
            taken.set()
            release.wait(5)

    t = threading.Thread(target=probe)
    t.start()
    taken.wait(5)
    threading.Timer(0.5, release.set).start()  # the probe lets go while the owner is trying
    try:
        assert sseft.publish(art, "probed") == "probed@1"
    finally:
        release.set()
        t.join()
    assert list(staging.iterdir()) == []
