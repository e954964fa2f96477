"""What a new user hit following the quickstart, one test each: extraction notes added up, the slow
face warning's advice, the synthetic-model answer before the missing-input one, inputs checked
before the encoders are built, the unknown-model sentence, shipped configs from any folder, and the
set-up / test scripts saying what they do."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from sseft.cli.main import cli
from sseft.core.specs import ModalitySpec

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> SimpleNamespace:
    r = CliRunner().invoke(cli, [*map(str, args)])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return SimpleNamespace(code=r.exit_code, out=r.stdout, err=r.stderr)


# -- 1. extraction notes ---------------------------------------------------------------------------
def test_extraction_notes_add_values_not_items() -> None:
    from sseft.core.extraction.engine import ExtractionSummary, tally_notes

    totals: dict[str, float] = {}
    for _ in range(16):  # 16 clips, 2 frames each, every frame with a face
        tally_notes(totals, {"frames": 2, "no_face_frames": 0})
    tally_notes(totals, {"frames": 3, "no_face_frames": 3, "no_face": True})
    tally_notes(totals, {"seconds": 1.5, "chunked": False, "source": "x.mp4"})
    assert totals == {
        "frames": 35,
        "no_face_frames": 3,
        "no_face": 1,
        "seconds": 1.5,
        "chunked": 0,
        "source": 1,
    }
    line = ExtractionSummary(total=16, stats={"face": {"frames": 32, "no_face_frames": 0}}).line()
    assert line.endswith("; face: frames 32") and "no_face_frames" not in line


# -- 2. slow face warning --------------------------------------------------------------------------
def test_slow_face_advice_names_only_changes_that_help() -> None:
    from sseft.plugins.modalities._face_impl import slow_face_advice
    from sseft.plugins.modalities.face import FaceConfig

    quick = slow_face_advice(FaceConfig(fps=2, detector_max_size=96), "cpu")
    assert not any("detector_max_size" in a for a in quick) and not any("fps=2" in a for a in quick)
    assert quick == ["--set face.fps=1 (2x fewer frames)", "a GPU (--device cuda)"]
    default = slow_face_advice(FaceConfig(), "cpu")
    assert default[:2] == [
        "--set face.fps=2 (5x fewer frames)",
        "--set face.detector_max_size=320 (about 4x cheaper detection)",
    ]
    assert slow_face_advice(FaceConfig(fps=1, detector_max_size=320), "cuda") == []


class _NoFaceDetector:
    identity = {"custom": "none"}

    def __call__(self, frame: np.ndarray) -> list:
        return []


def test_slow_face_warning_is_for_jobs_not_for_one_clip(monkeypatch) -> None:
    import sseft.plugins.modalities._face_impl as fi
    from sseft.plugins.modalities.face import FaceConfig

    monkeypatch.setattr(fi, "SLOW_SECONDS_PER_VIDEO_SECOND", 0.0)  # any measured cost is "slow"
    warned: list[str] = []
    monkeypatch.setattr(fi.log, "warning", lambda msg, *args: warned.append(msg % args))
    clip = np.zeros((4, 32, 32, 3), np.uint8)
    cfg = FaceConfig(random_init=True, fps=2, detector_max_size=96)
    ex = fi.FaceExtractor(cfg, detector=_NoFaceDetector())
    ex.progress = False
    ex([clip])  # one clip: `sseft predict`
    assert warned == []
    ex([clip, clip])  # a job: warned once
    ex([clip])
    assert len(warned) == 1 and "detector_max_size=320" not in warned[0] and "fps=2 " not in warned[0]
    assert "--set face.fps=1" in warned[0]


# -- 4. a model trained on synthetic features ---------------------------------------------------------
def _synthetic_model(tmp_path: Path) -> str:
    from sseft.core.model import ModelConfig, build_model

    spec = {"dim": 8, "fingerprint": {"source": "synthetic", "seed": 0}}
    cfg = ModelConfig(
        modalities=[ModalitySpec(name=n, **spec) for n in ("text", "speech", "face")],
        fusion={"n_self": 1, "heads": 2, "ffn_dim": 8},
        head={"name": "multiclass"},
        task="multiclass",
        label_names=["neg", "pos"],
    )
    import sseft

    art = sseft.save(build_model(cfg).eval(), tmp_path / "model", {}, {})
    return sseft.publish(art, "synthetic-demo")


def test_predict_says_synthetic_features_before_missing_inputs(tmp_path: Path) -> None:
    ref = _synthetic_model(tmp_path)
    res = invoke("predict", "--model", ref, "--text", "hello there")
    assert res.code == 2 and "synthetic features" in res.err and "no input for modality" not in res.err


# -- 5. inputs checked first -----------------------------------------------------------------------
def test_predict_names_a_missing_file_before_loading_anything(tmp_path: Path, monkeypatch) -> None:
    import sseft

    def no_load(*a: object, **k: object) -> None:
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(sseft, "load", no_load)
    res = invoke("predict", "--model", "anything", "--video", tmp_path / "nope.mp4")
    assert res.code == 2 and "nope.mp4: --video file not found" in res.err
    res = invoke("predict", "--model", "anything", "--audio", tmp_path / "nope.wav", "--text", "hi")
    assert res.code == 2 and "nope.wav: --audio file not found" in res.err


# -- 6. unknown model sentence ---------------------------------------------------------------------
def test_unknown_model_message_is_punctuated(tmp_path: Path) -> None:
    _synthetic_model(tmp_path)
    res = invoke("models", "show", "meld-emotion")
    assert res.code == 2
    assert "unknown model 'meld-emotion'. Known: synthetic-demo. See `sseft models list`" in res.err


def test_docs_lead_with_a_model_the_quickstart_makes() -> None:
    for doc in (REPO / "README.md", REPO / "docs" / "quickstart.md"):
        text = doc.read_text(encoding="utf-8")
        first = text.find("--model ")
        assert first > 0, doc
        assert not text[first:].startswith("--model meld-emotion"), f"{doc.name} leads with meld-emotion"


def test_quickstart_lite_clips_do_not_overwrite_the_earlier_manifest() -> None:
    text = (REPO / "docs" / "quickstart.md").read_text(encoding="utf-8")
    lite = text[text.index("## Your own clips, offline: the `lite` preset") :]
    assert (
        "make-demo-clips my_clips" in text
        and "my_clips" not in lite
        and 'Path("lite_clips/items.csv")' in lite
    )


# -- 3. shipped configs ----------------------------------------------------------------------------
def test_configs_resolve_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    from sseft.core.errors import ConfigError
    from sseft.core.training.experiment import load_experiment

    monkeypatch.chdir(tmp_path)
    cfg = load_experiment("configs/lite.yaml", ["train.epochs=2"])
    assert cfg.name == "lite" and cfg.train.epochs == 2
    # the store path inside the file resolves as if the config sat in ./configs
    assert Path(cfg.data.store) == (tmp_path / "features" / "lite").resolve()
    own = tmp_path / "configs" / "lite.yaml"  # a file of the user's wins
    own.parent.mkdir()
    own.write_text((REPO / "configs" / "lite.yaml").read_text().replace("name: lite", "name: mine"))
    assert load_experiment("configs/lite.yaml").name == "mine"
    with pytest.raises(ConfigError, match="configs/nope.yaml: config file not found.*configs/lite.yaml"):
        load_experiment("configs/nope.yaml")


# -- 7. scripts say what they do ---------------------------------------------------------------------
STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "{log}"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; cp "$0" "$3/bin/ruff"; cp "$0" "$3/bin/mypy"
fi
exit 0
"""


def _stub_python(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    stub = tmp_path / "python3"
    stub.write_text(STUB.format(log=log))
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return stub, log


@pytest.mark.slow
def test_setup_and_test_scripts_say_what_they_do(tmp_path: Path) -> None:
    stub, log = _stub_python(tmp_path)
    venv = tmp_path / "venv"
    env = {**os.environ, "SSEFT_VENV": str(venv), "PYTHON": str(stub)}
    r = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert 4 <= len(lines) <= 8, lines  # one line per stage, short
    assert lines[0].startswith("setup: creating") and "torch" in r.stdout and "ready" in lines[-1]
    assert "pip" in log.read_text()
    r = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) <= 1  # a ready venv: at most one line
    r = subprocess.run(
        ["bash", "scripts/test.sh", "-q"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    heads = [x for x in r.stdout.splitlines() if x.startswith("==")]
    assert [h.split()[1] for h in heads] == ["ruff", "ruff", "mypy", "pytest"], heads
