"""Hugging Face-compatible folders: export -> import under another name -> same predictions, the
model card, bad folders (one line, nothing published), and `hf:` references resolved offline from a
huggingface_hub cache laid out as snapshot_download leaves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from exportkit import hf_cache, saved, tiny_config

import sseft
from sseft.cli.main import cli
from sseft.core.errors import IntegrityError, RegistryError
from sseft.registry.card import build_card, fingerprint_id, front_matter

FOLDER_FILES = ["README.md", "checksums.json", "config.json", "model.safetensors"]
METRICS = {"test": {"accuracy": 0.75, "weighted_f1": 0.7}, "valid": {"accuracy": 0.5}}
TRAINING = {
    "experiment": "tiny-meld",
    "config": {"name": "tiny-meld", "data": {"store": "stores/meld", "generate": {"dataset": "meld", "config": {}},
               "labels": "emotion"}, "train": {"epochs": 3, "batch_size": 4, "lr": 0.001, "seed": 0}},
}  # fmt: skip


def cli_run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(map(str, args)))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def items(seed: int = 0) -> list[dict[str, object]]:
    g = torch.Generator().manual_seed(seed)
    return [
        {"id": f"i{k}", "features": {"text": torch.randn(n, 16, generator=g), "speech": torch.randn(n, 8, generator=g),
                                     "face": torch.randn(n, 6, generator=g)}}
        for k, n in enumerate([2, 5, 8])
    ]  # fmt: skip


def records(model: object) -> list[dict[str, object]]:
    return [p.record for p in model.predict_features(items())]  # type: ignore[attr-defined]


def test_export_import_under_another_name_same_predictions(tmp_path: Path) -> None:
    art = saved(tmp_path, metrics=METRICS, training=TRAINING)
    assert cli_run("models", "publish", art, "tiny")[0] == 0
    code, out = cli_run("models", "export", "tiny", tmp_path / "hf")
    assert code == 0, out
    folder = tmp_path / "hf"
    assert sorted(p.name for p in folder.iterdir()) == FOLDER_FILES  # uploadable as is, no pickles
    sums = json.loads((folder / "checksums.json").read_text())["files"]
    assert set(sums) == set(FOLDER_FILES) - {"checksums.json"}  # the card is covered
    card = (folder / "README.md").read_text()
    fm = front_matter(card)
    assert fm["library_name"] == "sseft" and fm["pipeline_tag"] == "video-classification"
    assert fm["datasets"] == ["meld"] and fm["metrics"] == ["accuracy", "weighted_f1"]
    assert {"license", "tags"} <= set(fm) and "fusion-sseft" in fm["tags"]
    assert "\n# tiny\n" in card  # the registry name it was published under (publishing rewrote the card)
    code, out = cli_run("models", "import", folder, "tiny-copy")
    assert code == 0 and "as tiny-copy@1" in out, out
    want = records(sseft.load("tiny"))
    assert records(sseft.load("tiny-copy")) == want
    assert records(sseft.load(folder)) == want


def test_card_is_built_from_what_the_artifact_records(tmp_path: Path) -> None:
    cfg = tiny_config()
    multi = {
        "test": {
            "accuracy": {"mean": 0.61, "std": 0.02, "n": 3},
            "weighted_f1": {"mean": 0.55, "std": 0.01, "n": 3},
        }
    }
    data = {"model": {**cfg, "fusion": {"name": "sseft"}}, "metrics": multi,
            "training": {**TRAINING, "seeds": [0, 1, 2]}, "created": "2026-12-07T00:00:00+00:00",
            "packages": {"sseft": "0.1.0"}}  # fmt: skip
    card = build_card(data)
    assert "Mean ± sample standard deviation over 3 seeds ([0, 1, 2])." in card
    assert "| test | accuracy | 0.61 ± 0.02 (n = 3) |" in card
    assert "`neg`, `neu`, `pos`" in card and "| text | 16-d, up to 8 frames | `tiny-text` |" in card
    assert fingerprint_id({"modality": "text", "model": "tiny-text"}) in card
    assert "*Friends*" in card and "acted" in card  # MELD's known limits, from the dataset plugin name
    assert "siriwardhana2020multimodal" in card and "splits: train `train`" in card
    fm = front_matter(card)
    assert fm["model-index"][0]["results"][0]["metrics"] == [
        {"type": "accuracy", "value": 0.61}, {"type": "weighted_f1", "value": 0.55}
    ]  # fmt: skip
    one = build_card({**data, "metrics": METRICS, "training": TRAINING})
    assert "One training run (one seed)" in one and "| test | accuracy | 0.75 |" in one


def test_models_show_prints_the_card(tmp_path: Path) -> None:
    sseft.publish(saved(tmp_path, metrics=METRICS, training=TRAINING), "shown")
    code, out = cli_run("models", "show", "shown")
    assert code == 0 and "library_name: sseft" in out and "## Intended use and known limits" in out


def test_bad_folders_are_one_line_and_nothing_is_imported(tmp_path: Path) -> None:
    from sseft.core.export.meta import META_NAME
    from sseft.registry.integrity import write_checksums

    art = saved(tmp_path)
    cut = tmp_path / "cut"
    shutil.copytree(art, cut)
    (cut / "model.safetensors").write_bytes((cut / "model.safetensors").read_bytes()[:-64])
    write_checksums(cut)  # checksums that match the cut file: the header check must still catch it
    mismatch = tmp_path / "mismatch"
    shutil.copytree(art, mismatch)
    cfg = json.loads((mismatch / "config.json").read_text())
    cfg["model"]["modalities"][1]["dim"] = 10  # config no longer describes the weights
    (mismatch / "config.json").write_text(json.dumps(cfg))
    write_checksums(mismatch)
    onnx_like = tmp_path / "onnx-like"
    onnx_like.mkdir()
    (onnx_like / META_NAME).write_text("{}")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "weights.bin").write_bytes(b"\0" * 16)
    cases = {
        cut: "truncated",
        mismatch: "weights do not",
        onnx_like: "an ONNX export, not a model folder",
        plain: "checksums.json: missing",
    }
    for folder, msg in cases.items():
        code, out = cli_run("models", "import", folder, "bad")
        assert code != 0 and msg in out and out.strip().count("\n") == 0, (folder.name, out)
        with pytest.raises(IntegrityError):
            sseft.load(folder)
    assert sseft.list_models("bad") == []


def test_hf_reference_loads_from_the_offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = saved(tmp_path)
    home = tmp_path / "hf-home"
    commit = hf_cache(home, "someorg/tiny-sseft", art)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    want = records(sseft.load(art))
    for ref in ("hf:someorg/tiny-sseft", f"hf:someorg/tiny-sseft@{commit}", "hf:someorg/tiny-sseft@main"):
        m = sseft.load(ref)
        assert records(m) == want
        assert m.artifact_info.source == f"hf:someorg/tiny-sseft@{commit}"
    with pytest.raises(RegistryError, match="not in the Hugging Face cache .* HF_HUB_OFFLINE is set"):
        sseft.load("hf:someorg/not-cached")
    with pytest.raises(RegistryError, match="invalid Hugging Face reference"):
        sseft.load("hf:../etc")
    snap = home / "hub" / "models--someorg--tiny-sseft" / "snapshots" / commit
    blob = (snap / "model.safetensors").resolve()  # a damaged cache entry is refused like any file
    blob.write_bytes(blob.read_bytes()[:-1])
    with pytest.raises(IntegrityError):
        sseft.load("hf:someorg/tiny-sseft")
