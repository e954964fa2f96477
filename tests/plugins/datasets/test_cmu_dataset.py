"""CMU-MOSI / MOSEI plugins: raw label.csv + Raw clips, pickles (opt-in only), SDK .csd files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_video

from sseft.core.errors import DataError
from sseft.plugins.datasets.cmu import EMOTIONS, MOSEI, MOSI, CmuConfig

LABEL_CSV = (
    "video_id,clip_id,text,label,label_T,label_A,label_V,annotation,mode\n"
    '03bSnISJMiM,1,"well, it was ""ok""",0.6,0.6,0.4,0.2,Positive,train\n'
    "03bSnISJMiM,10,bad — très bad,-2.4,-2,-2,-2,Negative,valid\n"
    "_dI--eQ6qVU,2,fine,0.0,0,0,0,Neutral,test\n"
)


def make_raw(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "label.csv").write_text(LABEL_CSV + extra, encoding="utf-8")
    write_video(root / "Raw" / "03bSnISJMiM" / "1.mp4")
    write_video(root / "Raw" / "_dI--eQ6qVU" / "2.mp4")  # clip 10 is missing
    return root


def test_raw_layout_items(tmp_path: Path) -> None:
    root = make_raw(tmp_path / "MOSI")
    cfg = CmuConfig(root=root)
    items = {it.id: it for it in MOSI.items(cfg)}
    assert list(items) == ["03bSnISJMiM$_$1", "03bSnISJMiM$_$10", "_dI--eQ6qVU$_$2"]
    a = items["03bSnISJMiM$_$1"]
    assert a.label == pytest.approx(0.6) and a.split == "train" and a.inputs["text"] == 'well, it was "ok"'
    assert a.inputs["speech"] == root / "Raw/03bSnISJMiM/1.mp4" == a.inputs["face"]
    b = items["03bSnISJMiM$_$10"]
    assert (
        b.split == "valid"
        and b.inputs == {"text": "bad — très bad"}
        and b.meta["missing"] == ["speech", "face"]
    )
    assert MOSI.task(cfg).type == "regression" and MOSI.task(cfg).label_names == ("sentiment",)
    with pytest.raises(DataError, match="holds sentiment only; MOSEI emotions need source: csd"):
        list(MOSEI.items(CmuConfig(root=root, labels="emotions")))
    with pytest.raises(DataError, match="mosi: has no emotion labels"):
        MOSI.task(CmuConfig(root=root, labels="emotions"))


def test_raw_bad_rows_reported(tmp_path: Path) -> None:
    root = make_raw(tmp_path / "MOSI", extra="x,3,t,high,0,0,0,N,train\ny,4,t,1.0,0,0,0,N,holdout\n")
    rep = MOSI.check(CmuConfig(root=root, missing_media="drop"))
    assert any("line 5: column label: 'high' is not a number" in p for p in rep.problems)
    assert any("line 6: column mode: 'holdout' is not train, valid or test" in p for p in rep.problems)
    assert rep.dropped == 1 and not rep.ok
    with pytest.raises(DataError, match="label.csv: line 5: column label"):
        list(MOSI.items(CmuConfig(root=root)))


# -- pickles --------------------------------------------------------------------------------------
class _Boom:
    """Unpickling this creates a marker file: proof that a pickle was (not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


def test_untrusted_pickle_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    evil = tmp_path / "data" / "unaligned_50.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps({"train": {"x": _Boom(marker)}}))
    cfg = CmuConfig(root=evil.parent, source="pickle", pickle=Path("unaligned_50.pkl"))
    with pytest.raises(
        DataError, match=r"is a Python pickle: loading it can run arbitrary code.*trust_pickle: true"
    ):
        list(MOSI.items(cfg))
    with pytest.raises(DataError, match="trust_pickle"):
        MOSI.check(cfg)
    from sseft.cli.main import cli

    res = CliRunner().invoke(cli, ["convert", "pickle", str(evil), "--out", str(tmp_path / "store")])
    assert res.exit_code == 2 and "--trust-pickle" in res.output
    res = CliRunner().invoke(cli, ["data", "info", "mosi", "--root", str(evil.parent), "--set", "source=pickle",
                                   "--set", "pickle=unaligned_50.pkl"])  # fmt: skip
    assert res.exit_code == 2 and "arbitrary code" in res.output
    assert not marker.exists()
    assert not (tmp_path / "store").exists()
    # with the explicit opt-in the file is loaded (and the marker appears): the gate is the only thing stopping it
    with pytest.raises(DataError, match=r"not an MMSA/MulT file"):  # loaded (marker), then refused
        list(MOSI.items(cfg.model_copy(update={"trust_pickle": True})))
    assert marker.exists()


def mmsa_pickle(path: Path) -> Path:
    rng = np.random.default_rng(0)
    data = {}
    for split, n in (("train", 3), ("valid", 1), ("test", 2)):
        audio = rng.normal(size=(n, 6, 5)).astype(np.float32)
        audio[0, 1, 2] = -np.inf  # MOSEI COVAREP style
        bert = np.zeros((n, 3, 4))
        bert[:, 1, :3] = 1  # 3 real tokens
        data[split] = {
            "text": rng.normal(size=(n, 4, 8)).astype(np.float32),
            "text_bert": bert,
            "audio": audio,
            "vision": rng.normal(size=(n, 7, 3)).astype(np.float32),
            "audio_lengths": [6, 2, 4][:n],
            "vision_lengths": [7, 1, 5][:n],
            "regression_labels": np.linspace(-3, 3, n).astype(np.float32),
            "id": [f"vid{split}$_${i}" for i in range(n)],
            "raw_text": ["t"] * n,
        }
    path.write_bytes(pickle.dumps(data))
    return path


def test_trusted_pickle_items_and_convert(tmp_path: Path) -> None:
    pkl = mmsa_pickle(tmp_path / "unaligned_50.pkl")
    cfg = CmuConfig(root=tmp_path, source="pickle", pickle=pkl, trust_pickle=True)
    items = {it.id: it for it in MOSI.items(cfg)}
    assert len(items) == 6 and items["vidvalid$_$0"].split == "valid"
    first = items["vidtrain$_$0"]
    assert first.inputs["text"].features.shape == (3, 8) and first.inputs["audio"].features.shape == (6, 5)
    assert first.inputs["audio"].features[1, 2] == 0.0 and first.meta["non_finite_replaced"] == 1
    assert items["vidtrain$_$1"].inputs["vision"].features.shape == (1, 3)
    assert items["vidtest$_$1"].label == pytest.approx(3.0)

    from sseft.cli.main import cli
    from sseft.core.features import FeatureStore

    out = tmp_path / "store"
    res = CliRunner().invoke(cli, ["convert", "pickle", str(pkl), "--out", str(out), "--trust-pickle"])
    assert res.exit_code == 0, res.output
    assert "6 added" in res.output and "replaced 3 non-finite" in res.output
    fs = FeatureStore.open(out)
    assert fs.task.type == "regression" and sorted(fs.splits) == ["test", "train", "valid"]
    assert fs.modalities["audio"].fingerprint["source"] == "mmsa-pickle"
    assert len(fs.modalities["audio"].fingerprint["file_sha256"]) == 64
    got = fs.get("vidtrain$_$1")
    np.testing.assert_allclose(
        got["features"]["vision"].numpy(), items["vidtrain$_$1"].inputs["vision"].features
    )
    assert fs.verify() == []
    exp = tmp_path / "exp.yaml"
    exp.write_text("name: x\ndata: {store: store}\nhead: {name: regression}\n")
    res = CliRunner().invoke(cli, ["data", "check", str(exp)])
    assert res.exit_code == 0 and "train" in res.output and "audio (5-d)" in res.output, res.output
    again = CliRunner().invoke(cli, ["convert", "pickle", str(pkl), "--out", str(out), "--trust-pickle"])
    assert again.exit_code == 0 and "0 added, 6 already there" in again.output  # resumable / idempotent


# -- CMU SDK computational sequences ---------------------------------------------------------------
def write_csd(path: Path, name: str, videos: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        g = f.create_group(name)
        for vid, (feats, iv) in videos.items():
            v = g.create_group(f"data/{vid}")
            v["features"] = feats
            v["intervals"] = iv
        g.create_group("metadata")["root name"] = name
    return path


def test_csd_labels_and_feature_alignment(tmp_path: Path) -> None:
    labels = {
        "vidA": (
            np.array([[1.5, 0.5, 0, 0, 0, 0, 0.3], [-1, 0, 1, 2, 0, 0, 0]]),
            np.array([[0.0, 2.0], [2.0, 4.0]]),
        ),
        "vidB": (np.array([[0.0, 0, 0, 0, 0, 0, 0]]), np.array([[0.0, 1.0]])),
        "vidC": (np.array([[2.0, 1, 0, 0, 0, 0, 0]]), np.array([[0.0, 1.0]])),  # in no split
    }
    t = np.arange(0, 4, 0.5)  # frames every 0.5 s
    covarep = {"vidA": (np.arange(16, dtype=np.float32).reshape(8, 2), np.stack([t, t + 0.5], 1)),
               "vidB": (np.ones((1, 2), np.float32), np.array([[5.0, 6.0]]))}  # fmt: skip
    write_csd(tmp_path / "labels.csd", "CMU_MOSEI_Labels", labels)
    write_csd(tmp_path / "covarep.csd", "COVAREP", covarep)
    (tmp_path / "folds.json").write_text(json.dumps({"train": ["vidA"], "dev": ["vidB"], "test": []}))
    cfg = CmuConfig(root=tmp_path, source="csd", labels="emotions", csd_labels=Path("labels.csd"),
                    csd_features={"audio": Path("covarep.csd")}, csd_splits=Path("folds.json"))  # fmt: skip
    assert MOSEI.task(cfg).label_names == EMOTIONS
    rep = MOSEI.check(cfg)
    assert any("1 labelled segments belong to videos outside every split" in n for n in rep.notes)
    assert any("vidB[0]: no audio input: no audio frames in" in m for m in rep.missing)
    items = {it.id: it for it in MOSEI.items(cfg)}
    assert set(items) == {"vidA[0]", "vidA[1]", "vidB[0]"}
    # vidB[0] has no overlapping frames: kept with nothing (policy partial), so extraction records
    # it as a failure naming why, instead of it vanishing
    assert items["vidB[0]"].inputs == {} and items["vidB[0]"].meta["missing"] == ["audio"]
    a0, a1 = items["vidA[0]"], items["vidA[1]"]
    assert a0.label == [1, 0, 0, 0, 0, 1] and a1.label == [0, 1, 1, 0, 0, 0]
    # both label sets of the SDK's MOSEI labels ride on every item: one extraction serves both
    assert set(MOSEI.task(cfg).label_sets) == {"sentiment", "emotions"} and MOSEI.task(cfg).name == "emotions"
    assert a0.labels == {"sentiment": 1.5, "emotions": [1, 0, 0, 0, 0, 1]}
    np.testing.assert_array_equal(a0.inputs["audio"], np.arange(8, dtype=np.float32).reshape(4, 2))
    assert a1.inputs["audio"].shape == (4, 2) and a1.split == "train"
    sent = {it.id: it.label for it in MOSEI.items(cfg.model_copy(update={"labels": "sentiment"}))}
    assert sent["vidA[1]"] == -1.0
    with pytest.raises(DataError, match="carry no split; set csd_splits"):
        list(MOSEI.items(cfg.model_copy(update={"csd_splits": None})))


@pytest.mark.parametrize("vlen", [False, True])
def test_csd_word_sequences_are_text(tmp_path: Path, vlen: bool) -> None:
    """CMU_MOSI_TimestampedWords.csd holds byte strings: read as words joined per segment, never
    cast to float (that cast was `OSError: Can't synchronously read data`)."""
    import h5py

    labels = {"vidA": (np.array([[1.5], [-1.0]]), np.array([[0.0, 2.0], [2.0, 4.0]]))}
    words = [b"sp", b"I", b"liked", b"it", b"sp", b"not", b"really"]
    t = np.array([0.0, 0.2, 0.6, 1.2, 2.0, 2.4, 3.0])
    arr = np.array(words, dtype=object if vlen else "S8").reshape(-1, 1)
    write_csd(tmp_path / "labels.csd", "Opinion Segment Labels", labels)
    with h5py.File(tmp_path / "words.csd", "w") as f:
        g = f.create_group("words/data/vidA")
        g.create_dataset("features", data=arr, dtype=h5py.string_dtype() if vlen else arr.dtype)
        g["intervals"] = np.stack([t, t + 0.2], 1)
    (tmp_path / "folds.json").write_text(json.dumps({"train": ["vidA"]}))
    cfg = CmuConfig(root=tmp_path, source="csd", csd_labels=Path("labels.csd"),
                    csd_features={"words": Path("words.csd")}, csd_splits=Path("folds.json"))  # fmt: skip
    items = {it.id: it for it in MOSI.items(cfg)}
    assert items["vidA[0]"].inputs == {"text": "I liked it"}  # `words` feeds the text modality
    assert items["vidA[1]"].inputs == {"text": "not really"}  # silence tokens left out
    rep = MOSI.check(cfg)  # `sseft data info mosi --set source=csd ...` ran this and crashed
    assert rep.coverage["train"] == {"text": 2}


def test_csd_sentiment_only_labels_give_one_label_set(tmp_path: Path) -> None:
    labels = {"vidA": (np.array([[1.5]]), np.array([[0.0, 2.0]]))}
    feats = {"vidA": (np.ones((2, 3), np.float32), np.array([[0.0, 1.0], [1.0, 2.0]]))}
    write_csd(tmp_path / "labels.csd", "Sentiment Labels", labels)
    write_csd(tmp_path / "f.csd", "FACET", feats)
    (tmp_path / "folds.json").write_text(json.dumps({"train": ["vidA"]}))
    cfg = CmuConfig(root=tmp_path, source="csd", csd_labels=Path("labels.csd"),
                    csd_features={"vision": Path("f.csd")}, csd_splits=Path("folds.json"))  # fmt: skip
    task = MOSEI.task(cfg)
    assert task.label_sets == {} and task.type == "regression"  # no emotions in this file: one set
    [item] = list(MOSEI.items(cfg))
    assert item.label == 1.5 and item.labels == {}
