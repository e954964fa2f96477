"""The done-when paths on a quickstart-like model (tiny encoders, real media, one training epoch:
tests/cli/predict_fixture.py): `models export --format onnx` -> `predict --runtime onnx` gives the
same label as PyTorch, and `models export` -> `models import` under another name -> same predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sseft.cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
import predict_fixture as pf  # noqa: E402


def run(*args: object) -> tuple[int, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def predict_json(model: object, clip: dict[str, str], *extra: object) -> dict[str, object]:
    args = ["predict", "--model", model, "--video", clip["video"], "--audio", clip["audio"], "--text", clip["text"],
            "--json", *extra]  # fmt: skip
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_onnx_export_then_predict_gives_the_same_label(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    pf.tiny_model()
    pf.publish("tiny-emotion")
    code, out = run("models", "export", "tiny-emotion", tmp_path / "onnx", "--format", "onnx", "--encoders")
    assert code == 0, out
    meta = json.loads((tmp_path / "onnx" / "sseft-onnx.json").read_text())
    # the tiny RoBERTa goes to ONNX (checked against PyTorch); wav2vec2 and FAb-Net are named as staying
    assert (
        meta["encoder_graphs"]["text"]["max_abs_diff"] < 1e-4
        and (tmp_path / "onnx" / "encoder-text.onnx").is_file()
    )
    stays = " ".join(meta["pytorch_parts"])
    assert "text: tokenizer" in stays and "speech:" in stays and "face:" in stays
    for seed in (11, 12):
        clip = pf.media_item(tmp_path / "in", f"clip{seed}", seed)
        want = predict_json("tiny-emotion", clip)
        got = predict_json(tmp_path / "onnx", clip, "--runtime", "onnx")
        assert got["label"] == want["label"] and got["label_names"] == want["label_names"]
        for k, p in want["probabilities"].items():  # type: ignore[attr-defined]
            assert abs(got["probabilities"][k] - p) < 1e-4  # type: ignore[index]
    code, out = run("predict", "--model", "tiny-emotion", "--runtime", "onnx", "--text", "hi")
    assert code != 0 and "export REF DIR --format onnx" in out and out.strip().count("\n") == 0, out


@pytest.mark.slow
def test_folder_export_then_import_under_another_name_predicts_the_same(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    pf.tiny_model()
    pf.publish("tiny-emotion")
    assert run("models", "export", "tiny-emotion", tmp_path / "folder")[0] == 0
    code, out = run("models", "import", tmp_path / "folder", "tiny-imported")
    assert code == 0 and "tiny-imported@1" in out, out
    clip = pf.media_item(tmp_path / "in", "clip", 13)
    want, got = predict_json("tiny-emotion", clip), predict_json("tiny-imported", clip)
    assert got["model"] == "tiny-imported@1"
    assert {k: v for k, v in got.items() if k != "model"} == {k: v for k, v in want.items() if k != "model"}
