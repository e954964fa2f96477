"""`sseft predict` and the prediction API on a tiny model trained on generated media (see
predict_fixture.py): raw clip -> rebuilt extractors -> prediction, batch CSV with a corrupt clip and
resume, attention PNGs, missing modalities, and the input routing / fingerprint rules."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import predict_fixture as pf
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.cli.main import cli
from sseft.core.errors import DataError, ExtractionError
from sseft.core.inference.inputs import extractor_config, fingerprint_diff, input_kinds, route_inputs
from sseft.core.inference.prediction import Prediction, csv_columns
from sseft.core.specs import ModalitySpec


def invoke(*args: str) -> SimpleNamespace:
    r = CliRunner().invoke(cli, ["predict", *map(str, args)])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return SimpleNamespace(code=r.exit_code, out=r.stdout, err=r.stderr)


def check_png(path: Path) -> None:
    """A real plot: big enough, not blank (many non-white pixels, several colours)."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB")).astype(float)
    h, w, _ = img.shape
    assert w >= 600 and h >= 400, (w, h)
    ink = (img.min(axis=2) < 200).mean()
    assert 0.02 < ink < 0.9, ink
    assert len(np.unique(img.reshape(-1, 3) // 32, axis=0)) >= 4  # bars, text, axes: not one flat colour


@pytest.fixture
def tiny(tmp_path: Path) -> pf.TinyModel:
    m = pf.tiny_model()
    assert pf.publish("tiny-emotion") == "tiny-emotion@1"
    return m


@pytest.mark.slow
def test_predict_a_clip_json_table_and_explain(tiny: pf.TinyModel, tmp_path: Path) -> None:
    it = pf.media_item(tmp_path / "in", "clip", 11)
    res = invoke("--model", "tiny-emotion", "--video", it["video"], "--audio", it["audio"], "--text", it["text"],
                 "--json", "--explain", tmp_path / "ex")  # fmt: skip
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["model"] == "tiny-emotion@1" and out["task"] == "multiclass" and out["id"] == "clip"
    assert out["label"] in out["label_names"] == ["neg", "pos"]
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-5
    assert out["label"] == max(out["probabilities"], key=out["probabilities"].get)
    assert out["modalities_used"] == ["text", "speech", "face"] and out["missing"] == []
    assert out["notes"]["inputs"] == {"text": "text", "speech": "audio", "face": "video"}
    png = tmp_path / "ex" / "clip.png"
    assert out["notes"]["explain"] == str(png)
    check_png(png)
    # Table output; speech now comes from the video's audio track, the transcript from a file.
    (tmp_path / "t.txt").write_text(it["text"] + "\n", encoding="utf-8")
    res = invoke("--model", "tiny-emotion", "--video", it["video"], "--text-file", tmp_path / "t.txt")
    assert res.code == 0, res.err
    assert "modalities used: text (from text), speech (from video), face (from video)" in res.out
    assert "model: tiny-emotion@1" in res.out and "prediction: " in res.out and "probability" in res.out


@pytest.mark.slow  # the tiny trained model (pf.tiny_model) costs a real extraction + training
def test_missing_modality_is_an_error_unless_allowed(tiny: pf.TinyModel) -> None:
    res = invoke("--model", "tiny-emotion", "--text", "hello world")
    assert res.code == 2 and res.err.count("\n") == 1
    assert "no input for modality 'speech'" in res.err and "--allow-missing" in res.err
    res = invoke("--model", "tiny-emotion", "--text", "hello world", "--allow-missing", "--json")
    out = json.loads(res.out)
    assert out["modalities_used"] == ["text"] and out["missing"] == ["speech", "face"]
    res = invoke("--model", "tiny-emotion", "--text", "hello world", "--allow-missing")
    assert "missing (fed as empty sequences): speech, face" in res.out
    assert invoke("--model", "tiny-emotion").code == 2  # no input at all: usage error


@pytest.mark.slow
def test_manifest_batch_records_a_corrupt_clip_and_resumes(tiny: pf.TinyModel, tmp_path: Path) -> None:
    d = tmp_path / "clips"
    items = {f"r{i}": pf.media_item(d, f"r{i}", i) for i in range(4)}
    pf.mf.truncated_copy(Path(items["r2"]["video"]), d / "bad.mp4", keep=0.4)
    rows = [
        "id,label,text,audio,video",
        f'r0,pos,"{items["r0"]["text"]}",clips/r0.wav,clips/r0.mp4',
        f'r1,neg,"{items["r1"]["text"]}",,clips/r1.mp4',  # speech from the video's audio track
        f'r2,neg,"{items["r2"]["text"]}",clips/r2.wav,clips/bad.mp4',  # corrupt clip
        f'r3,pos,"{items["r3"]["text"]}",clips/r3.wav,clips/r3.mp4',
    ]
    manifest = tmp_path / "items.csv"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "pred" / "predictions.csv"
    res = invoke("--model", "tiny-emotion", "--manifest", manifest, "--out", out, "--no-progress")
    assert res.code == 1, res.err  # exit code = number of failed items
    assert "predicted 3 / skipped 0" in res.out and "1 failed" in res.out
    with out.open() as f:
        got = list(csv.DictReader(f))
    assert [r["id"] for r in got] == ["r0", "r1", "r3"]
    assert list(got[0]) == [*csv_columns("multiclass", ["neg", "pos"]), "true_label"]
    for r in got:
        assert (
            r["prediction"] in ("neg", "pos")
            and r["modalities_used"] == "text;speech;face"
            and r["missing"] == ""
        )
        assert abs(float(r["prob_neg"]) + float(r["prob_pos"]) - 1) < 1e-4
    assert [r["true_label"] for r in got] == ["pos", "neg", "pos"]
    fails = [json.loads(x) for x in (out.parent / "failures.jsonl").read_text().splitlines()]
    assert [f["id"] for f in fails] == ["r2"] and "bad.mp4" in fails[0]["reason"]
    # A crash left half a row: the re-run drops it, skips what is done and retries only the failure.
    with out.open("a") as f:
        f.write("r9,neg,0.12")
    res = invoke("--model", "tiny-emotion", "--manifest", manifest, "--out", out, "--no-progress")
    assert "predicted 0 / skipped 3" in res.out and "1 failed" in res.out
    text = out.read_text()
    assert text.endswith("\n") and "r9" not in text and len(text.splitlines()) == 4
    # JSONL manifests, columns named after modalities (a `face` video also feeds speech).
    jl = tmp_path / "items.jsonl"
    jl.write_text(json.dumps({"id": "j0", "text": items["r0"]["text"], "face": "clips/r0.mp4"}) + "\n")
    res = invoke("--model", "tiny-emotion", "--manifest", jl, "--out", tmp_path / "j.csv", "--no-progress")
    assert res.code == 0 and "predicted 1 / skipped 0" in res.out, res.out + res.err
    (row,) = csv.DictReader((tmp_path / "j.csv").open())
    assert row["id"] == "j0" and row["modalities_used"] == "text;speech;face"


@pytest.mark.slow  # the tiny trained model (pf.tiny_model) costs a real extraction + training
def test_python_api_matches_stored_features(tiny: pf.TinyModel, tmp_path: Path) -> None:
    """m.predict on the raw media of a stored item == m.predict_features on its stored features:
    the extractors were rebuilt exactly as the fingerprints recorded them."""
    import torch

    import sseft
    from sseft.core.batch import collate
    from sseft.core.features import FeatureStore

    m = sseft.load("tiny-emotion")
    fps = {s.name: s.fingerprint for s in m.config.modalities}
    assert fps["face"]["config"]["detector_max_size"] == 96 and "batch_size" not in fps["face"]["config"]
    assert fps["text"]["config"]["model"] == str(
        tiny.text_model.resolve()
    )  # rebuilt from the recorded config
    store = FeatureStore.open(tiny.root / "store")
    items = [store.get(i) for i in store.ids("test")]
    by_items = m.predict_features(items)
    batch = collate(items, ["text", "speech", "face"])
    by_batch = m.predict_features(batch)
    by_dict = m.predict_features({"features": batch.features, "lengths": batch.lengths, "ids": batch.ids})
    for a, b, c in zip(by_items, by_batch, by_dict, strict=True):
        assert a.id == b.id == c.id and a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5) == c.probabilities
    src = {r["id"]: r for r in csv.DictReader((tiny.root / "train.csv").open())}
    first = items[0]["id"]
    p = m.predict(text=src[first]["text"], audio=src[first]["speech"], video=src[first]["face"])
    assert isinstance(p, Prediction) and p.modalities_used == ["text", "speech", "face"]
    assert p.probabilities == pytest.approx(by_items[0].probabilities, abs=1e-4)
    assert torch.is_tensor(items[0]["features"]["face"])
    # Missing modality through the API: refused, then allowed (and cached per option set).
    with pytest.raises(DataError, match="no input for modality 'speech'"):
        m.predict(text="hello world")
    q = m.predict(text="hello world", allow_missing=True)
    assert q.missing == ["speech", "face"] and q.to_dict()["label"] in ("neg", "pos")


@pytest.mark.slow  # the tiny trained model (pf.tiny_model) costs a real extraction + training
def test_extractor_rebuild_errors_name_the_encoder(tiny: pf.TinyModel, tmp_path: Path) -> None:
    res = invoke("--model", "tiny-emotion", "--text", "hi", "--allow-missing", "--set", "text.layer=0")
    assert res.code == 2 and "differs from the one the model was trained with" in res.err
    assert "settings.layer: -1 -> 0" in res.err
    res = invoke(
        "--model", "tiny-emotion", "--text", "hi", "--allow-missing", "--set", f"text.model={tmp_path}/gone"
    )
    assert res.code == 2 and "is not available here" in res.err and "--set text.model=PATH" in res.err
    res = invoke("--model", "tiny-emotion", "--text", "hi", "--set", "nosuch.x=1")
    assert res.code == 2 and "MODALITY.FIELD=VALUE" in res.err


def test_features_only_model_refuses_raw_inputs_but_predicts_features() -> None:
    import torch

    from sseft.core.model import ModelConfig, build_model

    spec = {"dim": 8, "fingerprint": {"source": "synthetic", "seed": 0}}
    cfg = ModelConfig(
        modalities=[ModalitySpec(name="a", **spec), ModalitySpec(name="b", **spec)],
        fusion={"n_self": 1, "heads": 2, "ffn_dim": 8},
        head={"name": "regression"},
        task="regression",
        label_names=["sentiment"],
    )
    m = build_model(cfg).eval()
    with pytest.raises(ExtractionError, match="synthetic features"):
        m.predict(a="x", b="y")
    feats = {"a": torch.randn(3, 5, 8), "b": torch.randn(3, 4, 8)}
    preds = m.predict_features(
        {"features": feats, "lengths": {"a": torch.tensor([5, 2, 0]), "b": torch.tensor([4, 4, 1])}}
    )
    assert [p.id for p in preds] == ["0", "1", "2"]
    for p in preds:
        assert p.acc7_class == max(-3, min(3, round(p.score))) and p.to_dict()["score"] == p.score


@pytest.mark.parametrize("head", ["multiclass", "multilabel-binary", "regression"])
def test_every_head_gives_per_label_output_and_dropout_trained_models_allow_missing(head: str) -> None:
    import torch

    from sseft.core.inference import Predictor
    from sseft.core.model import ModelConfig, build_model
    from sseft.registry.artifact import ArtifactInfo

    task = {"multiclass": "multiclass", "multilabel-binary": "multilabel", "regression": "regression"}[head]
    names = ["happy", "sad", "angry"]
    spec = {"dim": 8, "fingerprint": {"source": "synthetic"}}
    cfg = ModelConfig(
        modalities=[ModalitySpec(name="a", **spec), ModalitySpec(name="b", **spec)],
        fusion={"n_self": 1, "heads": 2, "ffn_dim": 8},
        head={"name": head},
        task=task,
        label_names=names,
    )
    m = build_model(cfg).eval()
    only_a = {"features": {"a": torch.randn(2, 4, 8)}}
    with pytest.raises(DataError, match="no features for modality 'b'"):
        Predictor(m).predict_features(only_a)
    m.artifact_info = ArtifactInfo(path=Path("x"), format_version=1, created="",
                                   training={"config": {"train": {"modality_dropout": 0.3}}})  # fmt: skip
    p = Predictor(m)
    assert p.dropout_trained and p.allow_missing
    preds = p.predict_features(only_a)
    assert [q.missing for q in preds] == [["b"], ["b"]] and preds[0].modalities_used == ["a"]
    d = preds[0].to_dict()
    if task == "regression":
        assert set(d["scores"]) == set(d["acc7"]) == set(names) and "score" not in d
    elif task == "multilabel":
        assert set(d["probabilities"]) == set(names) and set(d["labels"]) <= set(names)
        assert d["labels"] == [n for n in names if d["probabilities"][n] > 0.5]
    else:
        assert d["label"] in names and abs(sum(d["probabilities"].values()) - 1) < 1e-5
    assert list(preds[0].csv_row()) == csv_columns(task, names)


def test_input_routing_fallbacks_and_plugin_declared_kinds() -> None:
    def spec(name: str, plugin: str | None) -> ModalitySpec:
        return ModalitySpec(name=name, dim=4, fingerprint={"modality": plugin} if plugin else None)

    specs = [spec("text", "text"), spec("speech", "speech"), spec("face", "face"), spec("eeg", "eeg")]
    eeg_plugin = SimpleNamespace(input_kinds=("eeg", "biosignal"))
    assert input_kinds(specs[1]) == ("audio", "video") and input_kinds(specs[3], eeg_plugin) == (
        "eeg",
        "biosignal",
    )
    routed, used, unused = route_inputs(
        specs, {"text": "hi", "video": "v.mp4", "biosignal": "r.npy", "thermal": "t.mp4"}, {"eeg": eeg_plugin}
    )
    assert routed == {"text": "hi", "speech": "v.mp4", "face": "v.mp4", "eeg": "r.npy"}
    assert used == {"text": "text", "speech": "video", "face": "video", "eeg": "biosignal"} and unused == [
        "thermal"
    ]
    routed, used, _ = route_inputs(specs, {"audio": "a.wav", "video": "v.mp4", "speech": None})
    assert used["speech"] == "audio" and "eeg" not in routed


def test_fingerprint_rules() -> None:
    rec = {
        "modality": "text",
        "model": "/a/rob",
        "weights_sha256": "ab",
        "settings": {"layer": -1},
        "config": {"x": 1},
    }
    assert fingerprint_diff(rec, {**rec, "model": "/b/rob", "config": {"x": 2}}) == []
    assert fingerprint_diff(rec, {**rec, "model": "/b/rob", "weights_sha256": "cd"}) != []
    assert fingerprint_diff(rec, {**rec, "settings": {"layer": 0}}) == ["settings.layer: -1 -> 0"]
    from sseft.plugins.modalities.face import PLUGIN as FACE

    # No recorded config: refused in one line, never guessed from the other fingerprint fields.
    fp = {"modality": "face", "random_init": True, "seed": 3, "settings": {"fps": 5.0}}
    spec = ModalitySpec(name="face", dim=256, fingerprint=fp)
    with pytest.raises(ExtractionError, match="records no extractor config") as e:
        extractor_config(FACE, spec)
    assert "\n" not in str(e.value)
    assert (
        extractor_config(FACE, spec.model_copy(update={"fingerprint": {**fp, "config": {"fps": 2.0}}})).fps
        == 2.0
    )


@settings(max_examples=20, deadline=None)
@given(
    task=st.sampled_from(["multiclass", "regression", "multilabel"]),
    names=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=2, max_size=5, unique=True),
    data=st.data(),
)
def test_csv_rows_fit_their_header(task: str, names: list[str], data: st.DataObject) -> None:
    import torch

    from sseft.core.inference.prediction import head_for_task

    head = head_for_task(task, names)  # the rendering is the head's (core knows no task)
    width = {"multilabel": 2 * len(names)}.get(task, len(names))
    outs = data.draw(st.lists(st.floats(-5, 5), min_size=width, max_size=width))
    outputs = torch.tensor(outs).reshape(1, *head(torch.zeros(1, 1)).shape[1:])
    (rec,) = head.records(outputs, ["x"])
    p = Prediction.from_record(head, rec, modalities_used=["text"])
    row = p.csv_row()
    assert list(row) == csv_columns(task, names)
    assert p.summary() and p.table().count("\n") == len(names)
    json.dumps(p.to_dict())


@settings(max_examples=20, deadline=None)
@given(
    batches=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    cut=st.floats(0.0, 1.0),
    text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
)
def test_prediction_writer_survives_a_crash_anywhere(batches: list[int], cut: float, text: str) -> None:
    """Rows appended in batches, the file cut at any byte (a crash mid-write): reopening keeps only
    whole rows, every kept id was written, and appending again leaves a well-formed CSV."""
    import tempfile

    from sseft.core.inference.batch import PredictionWriter, one_line

    cols = ["id", "prediction", "note"]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "p.csv"
        w = PredictionWriter(out, cols)
        written, n = [], 0
        for size in batches:
            rows = [{"id": f"i{n + k}", "prediction": "x", "note": f'{text},"q"\n'} for k in range(size)]
            w.append(rows)
            written += [r["id"] for r in rows]
            n += size
        w.close()
        data = out.read_bytes()
        out.write_bytes(data[: max(1, int(len(data) * cut))])
        # A cut inside the header leaves no whole line: the file restarts with a fresh header.
        w = PredictionWriter(out, cols)
        assert w.done_ids <= set(written)
        w.append([{"id": "new", "prediction": "y", "note": ""}])
        w.close()
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["id"] for r in rows] == [*[i for i in written if i in w.done_ids and i != "new"], "new"]
        assert all(r["note"] in ("", one_line(f'{text},"q"\n')) for r in rows)


def test_features_longer_than_max_len_are_cropped_to_what_the_model_saw() -> None:
    """The model never saw sequences past its max_len: prediction keeps the first max_len frames (not the
    last, not a crash on the positional table) and says so in the item's notes."""
    import torch

    from sseft.core.model import ModelConfig, build_model

    spec = {"dim": 8, "max_len": 4, "fingerprint": {"source": "synthetic"}}
    cfg = ModelConfig(
        modalities=[ModalitySpec(name="a", **spec), ModalitySpec(name="b", **spec)],
        fusion={"n_self": 1, "heads": 2, "ffn_dim": 8, "dropout": 0.0, "attn_dropout": 0.0},
        head={"name": "regression"},
        task="regression",
        label_names=["sentiment"],
    )
    m = build_model(cfg).eval()
    with torch.no_grad():  # an untrained head scores ~0 for everything: widen it so inputs tell apart
        m.head.out_proj.weight.mul_(1000.0)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(10, 8, generator=g), torch.randn(3, 8, generator=g)
    (long,) = m.predict_features([{"id": "x", "features": {"a": a, "b": b}}])
    (first,) = m.predict_features([{"id": "x", "features": {"a": a[:4], "b": b}}])
    (last,) = m.predict_features([{"id": "x", "features": {"a": a[-4:], "b": b}}])
    assert long.notes["cropped"] == {"a": {"from": 10, "to": 4}} and "cropped" not in first.notes
    assert long.score == pytest.approx(first.score, abs=1e-6) and long.score != pytest.approx(
        last.score, abs=1e-6
    )
