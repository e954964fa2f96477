"""Extraction engine: failures recorded per item, resume after SIGKILL, fingerprint refusal,
1 vs 2 processes (accelerate launch) giving identical tensors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402

from sseft.core.errors import FeatureStoreError  # noqa: E402
from sseft.core.protocols import Item, TaskInfo  # noqa: E402

TASK = TaskInfo("multiclass", ("neg", "neu", "pos"))
WORDS = mf.WORDS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Tiny encoders + 12 good items (text, wav at mixed rates) + a manifest with bad rows."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("corpus")
    rob, w2v = mf.tiny_roberta(d / "rob"), mf.tiny_wav2vec2(d / "w2v")
    items = []
    for i in range(12):
        sr = (8000, 16000, 22050, 44100)[i % 4]
        wav = mf.write_audio(d / f"a{i}.wav", 0.3 + 0.05 * i, sr, channels=2, seed=i)
        text = " ".join(WORDS[j % len(WORDS)] for j in range(i, 2 * i + 3))
        items.append(
            Item(f"u{i:02d}", ("train", "valid", "test")[i % 3], i % 3, {"text": text, "speech": wav})
        )
    configs = {"text": {"model": str(rob)}, "speech": {"model": str(w2v)}}
    return {"dir": d, "items": items, "configs": configs, "rob": rob, "w2v": w2v}


def extract(corpus: dict, out: Path, items=None, **kw):
    from sseft.core.extraction import extract_items

    kw.setdefault("batch_size", 3)
    kw.setdefault("shard_size", 2)
    return extract_items(
        items or corpus["items"], TASK, corpus["configs"], out, progress=False, threads=1, **kw
    )


def assert_same_store(a: Path, b: Path) -> None:
    from sseft.core.features import FeatureStore

    sa, sb = FeatureStore.open(a), FeatureStore.open(b)
    assert sa.splits == sb.splits and sa.modalities == sb.modalities
    for split in sa.splits:
        assert sa.ids(split) == sb.ids(split) and sa.labels(split) == sb.labels(split)
        for i in sa.ids(split):
            fa, fb = sa.get(i)["features"], sb.get(i)["features"]
            assert all(torch.equal(fa[m], fb[m]) for m in fa), i
    assert sa.verify() == [] and sb.verify() == []


def test_bad_items_go_to_failures_jsonl_and_the_job_goes_on(corpus, tmp_path) -> None:
    d = corpus["dir"]
    good = corpus["items"][0].inputs["speech"]
    (d / "adir.wav").mkdir(exist_ok=True)
    bad = [
        Item("trunc", "train", 0, {"text": "hello", "speech": mf.truncated_copy(good, d / "trunc.wav")}),
        Item("empty-text", "train", 1, {"text": "  ", "speech": good}),
        Item("zero-audio", "train", 1, {"text": "hello", "speech": mf.write_audio(d / "zero.wav", 0, 16000)}),
        Item("missing", "train", 2, {"text": "hello", "speech": d / "missing.flac"}),
        Item("unreadable", "train", 2, {"text": "hello", "speech": d / "adir.wav"}),
        Item("no-speech", "train", 2, {"text": "hello"}),
        Item("u00", "train", 0, {"text": "duplicate id", "speech": good}),
    ]
    s = extract(corpus, tmp_path / "store", items=corpus["items"][:4] + bad)
    assert (s.done, s.failed, s.skipped) == (4, 7, 0) and s.exit_code == 7
    lines = [json.loads(x) for x in (tmp_path / "store" / "failures.jsonl").read_text().splitlines()]
    got = {(x["id"], x["modality"]): x["reason"] for x in lines}
    assert "truncated WAV" in got[("trunc", "speech")]
    assert "empty text" in got[("empty-text", "text")]
    assert "0 samples" in got[("zero-audio", "speech")]
    assert "file not found" in got[("missing", "speech")]
    assert "not a regular file" in got[("unreadable", "speech")]
    assert "no speech input" in got[("no-speech", "speech")]
    assert "duplicate item id" in got[("u00", None)]
    assert "7 failed" in s.line()


def test_refuses_to_append_features_of_another_fingerprint(corpus, tmp_path) -> None:
    extract(corpus, tmp_path / "store", items=corpus["items"][:2])
    other = {**corpus["configs"], "text": {"model": str(corpus["rob"]), "layer": 1}}
    from sseft.core.extraction import extract_items

    with pytest.raises(FeatureStoreError, match="fingerprint"):
        extract_items(corpus["items"][2:4], TASK, other, tmp_path / "store", progress=False, threads=1)


def test_rerun_skips_finished_items(corpus, tmp_path) -> None:
    first = extract(corpus, tmp_path / "store", items=corpus["items"][:5])
    again = extract(corpus, tmp_path / "store")
    assert (first.done, again.done, again.skipped) == (5, 7, 5)


CHILD = """
import sys, time, torch
sys.path.insert(0, {factory!r})
from sseft.core.extraction import engine
from sseft.core.protocols import Item, TaskInfo
slow = engine.run_batch
def run_batch(ex, batch, *rest):
    time.sleep(0.4)  # give the parent time to kill us mid-way
    return slow(ex, batch, *rest)
engine.run_batch = run_batch
items = [Item(i, s, l, {{"text": t, "speech": p}}) for i, s, l, t, p in {items!r}]
engine.extract_items(items, TaskInfo("multiclass", ("neg", "neu", "pos")), {configs!r}, {out!r},
                     batch_size=3, shard_size=2, progress=False, threads=1)
"""


@pytest.mark.slow
def test_killed_mid_way_then_rerun_equals_an_uninterrupted_run(corpus, tmp_path) -> None:
    extract(corpus, tmp_path / "whole")
    out = tmp_path / "killed"
    rows = [
        (it.id, it.split, it.label, it.inputs["text"], str(it.inputs["speech"])) for it in corpus["items"]
    ]
    code = CHILD.format(
        factory=str(Path(mf.__file__).parent), items=rows, configs=corpus["configs"], out=str(out)
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    partial = out / "partial" / "0.json"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if len(json.loads(partial.read_text())["shards"]) >= 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "index.json").exists()  # it really died before finishing
    resumed = extract(corpus, out)
    assert 0 < resumed.skipped < len(corpus["items"]) and resumed.done + resumed.skipped == len(
        corpus["items"]
    )
    assert_same_store(tmp_path / "whole", out)


def write_manifest(corpus: dict, path: Path, extra: list[list[str]] = ()) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "split", "label", "text", "speech"])
        for it in corpus["items"]:
            w.writerow([it.id, it.split, TASK.label_names[it.label], it.inputs["text"], it.inputs["speech"]])
        w.writerows(extra)
    return path


def cli_args(corpus: dict, manifest: Path) -> list[str]:
    return [
        "extract",
        "--dataset",
        "manifest",
        "--root",
        str(manifest),
        "--modalities",
        "text,speech",
        "--set",
        f"text.model={corpus['rob']}",
        "--set",
        f"speech.model={corpus['w2v']}",
        "--set",
        "dataset.label_names=[neg,neu,pos]",
        "--set",
        "dataset.missing_media=partial",
        "--batch-size",
        "3",
        "--shard-size",
        "2",
        "--no-progress",
        # Same threads per process in every run: another thread count may change float rounding.
        "--threads",
        "1",
    ]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_cli_summary_and_exit_code_count_the_failures(corpus, tmp_path) -> None:
    d = corpus["dir"]
    trunc = mf.truncated_copy(corpus["items"][0].inputs["speech"], d / "cli-trunc.wav")
    mp4 = mf.write_mp4(d / "video-only.mp4", faces=[True, True])
    extra = [["bad1", "train", "neg", "hello", str(trunc)], ["bad2", "train", "pos", "hello", str(mp4)]]
    manifest = write_manifest(corpus, tmp_path / "m.csv", extra)
    res = subprocess.run(
        [sys.executable, "-m", "sseft", *cli_args(corpus, manifest), "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr[-2000:]  # exit code = number of failed items
    assert "extracted 12 / skipped 0 (already stored) / 2 failed" in res.stdout
    reasons = {
        json.loads(x)["id"]: json.loads(x)["reason"] for x in (tmp_path / "s" / "failures.jsonl").open()
    }
    assert "truncated WAV" in reasons["bad1"] and "no audio stream" in reasons["bad2"]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "sseft",
            "extract",
            "--dataset",
            "manifest",
            "--root",
            str(manifest),
            "--modalities",
            "text",
            "--set",
            "txt.model=x",
            "--out",
            str(tmp_path / "t"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert bad.returncode == 2 and "error:" in bad.stderr and "txt.model" in bad.stderr


@pytest.mark.slow
def test_one_process_and_two_processes_give_identical_stores(corpus, tmp_path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.exists():
        pytest.skip("accelerate launcher not installed")
    extract(corpus, tmp_path / "one")
    manifest = write_manifest(corpus, tmp_path / "m.csv")
    two = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "sseft",
            *cli_args(corpus, manifest),
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=180,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("extracted 12 /") == 1 and "2 process(es)" in two.stdout  # one summary, main only
    assert not (tmp_path / "two" / "partial").exists()  # the merge absorbed both processes' own shards
    assert_same_store(tmp_path / "one", tmp_path / "two")


LAUNCHED = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {factory!r})
from sseft.core.extraction import engine
from sseft.core.protocols import Item, TaskInfo
out = Path({out!r})
slow = engine.run_batch
def run_batch(ex, batch, *rest):
    if os.environ.get("SLOW") == "1":
        time.sleep(0.3)
    return slow(ex, batch, *rest)
engine.run_batch = run_batch
ctx = engine.dist_context()
(out / "pids").mkdir(parents=True, exist_ok=True)
(out / "pids" / str(ctx.rank)).write_text(str(os.getpid()))
items = [Item(i, s, l, {{"text": t, "speech": p}}) for i, s, l, t, p in {items!r}]
engine.extract_items(items, TaskInfo("multiclass", ("neg", "neu", "pos")), {configs!r}, out / "store",
                     batch_size=3, shard_size=1, progress=False, threads=1, ctx=ctx)
"""


@pytest.mark.slow
def test_one_of_two_processes_killed_then_rerun_completes_the_same_store(corpus, tmp_path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.exists():
        pytest.skip("accelerate launcher not installed")
    extract(corpus, tmp_path / "whole", shard_size=1)
    out = tmp_path / "job"
    rows = [
        (it.id, it.split, it.label, it.inputs["text"], str(it.inputs["speech"])) for it in corpus["items"]
    ]
    script = tmp_path / "job.py"
    script.write_text(
        LAUNCHED.format(
            factory=str(Path(mf.__file__).parent), items=rows, configs=corpus["configs"], out=str(out)
        )
    )
    launch = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", str(script)]  # fmt: skip
    proc = subprocess.Popen(
        launch, env={**ENV, "SLOW": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 90
    killed = False
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads((out / "store" / "partial" / "1.json").read_text())["shards"]:
                os.kill(int((out / "pids" / "1").read_text()), signal.SIGKILL)  # rank 1 dies mid-way
                killed = True
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed and proc.returncode != 0
    rerun = subprocess.run(launch, env=ENV, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_same_store(tmp_path / "whole", out / "store")


def text_only(corpus: dict, order: list[int]) -> list[Item]:
    return [Item(f"t{i:02d}", "train", i % 3, {"text": corpus["items"][i].inputs["text"]}) for i in order]


def test_batches_hold_items_of_similar_length_longest_first(corpus, tmp_path, monkeypatch) -> None:
    from sseft.core.extraction import engine, extract_items

    seen: list[list[int]] = []
    real = engine.run_batch

    def spy(ex, batch, *rest):
        seen.append([len(it.inputs["text"]) for it in batch])
        return real(ex, batch, *rest)

    monkeypatch.setattr(engine, "run_batch", spy)
    items = text_only(corpus, [5, 0, 11, 3, 8, 1, 10, 6, 2, 9, 4, 7])  # lengths grow with the index
    cfg = {"text": corpus["configs"]["text"]}
    kw = {"batch_size": 4, "progress": False, "threads": 1}
    extract_items(items, TASK, cfg, tmp_path / "sorted", **kw)
    flat = [n for b in seen for n in b]
    assert flat == sorted(flat, reverse=True)  # longest first, each batch pads to similar lengths
    seen.clear()
    extract_items(items, TASK, cfg, tmp_path / "input", sort_by_length=False, **kw)
    assert [n for b in seen for n in b] == [len(it.inputs["text"]) for it in items]
    assert_same_store(tmp_path / "sorted", tmp_path / "sorted")  # both stores readable and whole
    a, b = (FeatureStore_open(tmp_path / d) for d in ("sorted", "input"))
    for i in a.ids("train"):  # other batch companions, other padding: the same features up to rounding
        fa, fb = a.get(i)["features"]["text"], b.get(i)["features"]["text"]
        assert fa.shape == fb.shape and torch.allclose(fa, fb, atol=1e-4), i


def FeatureStore_open(root: Path):
    from sseft.core.features import FeatureStore

    return FeatureStore.open(root)


def test_bf16_extraction_agrees_with_fp32_and_half_stores_keep_rounded_values(corpus, tmp_path) -> None:
    from safetensors import safe_open

    extract(corpus, tmp_path / "fp32")
    bf16 = extract(corpus, tmp_path / "bf16", mixed_precision="bf16")
    half = extract(corpus, tmp_path / "half", dtype="float16")
    assert (bf16.done, bf16.failed, half.done, half.failed) == (12, 0, 12, 0)
    a, b, h = (FeatureStore_open(tmp_path / d) for d in ("fp32", "bf16", "half"))
    for m in ("text", "speech"):
        assert (a.modalities[m].dtype, b.modalities[m].dtype, h.modalities[m].dtype) == ("float32",) * 2 + (
            "float16",
        )
        assert b.modalities[m].fingerprint["mixed_precision"] == "bf16"
        assert "mixed_precision" not in a.modalities[m].fingerprint | h.modalities[m].fingerprint
    shard = next((tmp_path / "half").rglob("*.safetensors"))
    with safe_open(shard, framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # noqa: SIM118 (half the disk)
    differs = False
    for i in [x for s in a.splits for x in a.ids(s)]:
        fa, fb, fh = a.get(i)["features"], b.get(i)["features"], h.get(i)["features"]
        for m in fa:
            assert fb[m].dtype == fh[m].dtype == torch.float32  # read back as float32
            assert torch.equal(fh[m], fa[m].half().float()), (i, m)  # the fp32 features, rounded once
            cos = torch.nn.functional.cosine_similarity(fa[m], fb[m], dim=-1)
            assert fa[m].shape == fb[m].shape and float(cos.min()) > 0.99, (i, m, float(cos.min()))
            differs |= not torch.equal(fa[m], fb[m])
    assert differs  # the encoders really ran in bf16
    with pytest.raises(FeatureStoreError, match="other settings"):  # fp32 features into a bf16 store
        extract(corpus, tmp_path / "bf16", items=corpus["items"][:3])


def test_unknown_precision_or_store_dtype_is_one_clear_error(corpus, tmp_path) -> None:
    from sseft.core.errors import ConfigError

    with pytest.raises(ConfigError, match="mixed_precision must be one of no, bf16, fp16"):
        extract(corpus, tmp_path / "a", mixed_precision="fp8")
    with pytest.raises(ConfigError, match="store dtype must be one of float32, float16, bfloat16"):
        extract(corpus, tmp_path / "b", dtype="int8")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_model_on_bf16_features_rebuilds_its_extractor_with_the_same_autocast(corpus, tmp_path) -> None:
    from sseft.core.inference.inputs import build_extractor, clear_extractor_cache
    from sseft.core.specs import ModalitySpec

    extract(corpus, tmp_path / "bf16", items=corpus["items"][:3], mixed_precision="bf16")
    info = FeatureStore_open(tmp_path / "bf16").modalities["text"]
    spec = ModalitySpec(
        name="text", dim=info.dim, provides_cls=True, max_len=info.max_len, fingerprint=info.fingerprint
    )
    clear_extractor_cache()
    ex = build_extractor(spec)  # the fingerprint check passes: same encoder, same precision
    (out,) = ex(["hello world"])
    ref = build_extractor(
        spec.model_copy(update={"fingerprint": {**info.fingerprint, "mixed_precision": None}}), verify=False
    )
    (plain,) = ref(["hello world"])
    assert getattr(ex.model, "_sseft_autocast", False) and not torch.equal(out.features, plain.features)
    clear_extractor_cache()


def failures(root: Path) -> list[tuple[str, str]]:
    path = root / "failures.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return sorted((r["id"], r["reason"]) for r in rows)


def test_prefetching_the_next_batch_changes_nothing(corpus, tmp_path) -> None:
    """Prepared one batch ahead in a thread, or inside the extractor: the same tensors, notes and
    failures (a corrupt wav fails in `prepare` either way, naming its file)."""
    from sseft.core.features import FeatureStore

    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF not really a wav")
    items = [*corpus["items"], Item("broken", "train", 0, {"text": "hello there", "speech": bad})]
    extract(corpus, tmp_path / "ahead", items=items, prefetch=True)
    extract(corpus, tmp_path / "inline", items=items, prefetch=False)
    assert_same_store(tmp_path / "ahead", tmp_path / "inline")
    a, b = FeatureStore.open(tmp_path / "ahead"), FeatureStore.open(tmp_path / "inline")
    assert all(a.meta(split) == b.meta(split) for split in a.splits)
    fa = failures(tmp_path / "ahead")
    assert fa == failures(tmp_path / "inline") and [i for i, _ in fa] == ["broken"]
    assert "corrupt.wav" in fa[0][1]
