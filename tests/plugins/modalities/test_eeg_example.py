"""The third-party EEG plugin (examples/sseft-eeg): pip-install it (into a temporary folder put on
the path, never into the shared environment), see it in `sseft plugins`, extract synthetic EEG next
to text, speech and face, train a 4-modality model for a few steps and predict from raw inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import media_factory as mf
import numpy as np
import pytest
import torch

from sseft.core.plugins import reset_manager
from sseft.core.protocols import Item, TaskInfo

REPO = Path(__file__).resolve().parents[3]
PKG = REPO / "examples" / "sseft-eeg"
pytestmark = pytest.mark.slow


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory):
    """A real `pip install` of a copy of the example (the build writes into its source folder) into
    a temporary target folder, which goes first on sys.path and PYTHONPATH for this module only."""
    src = tmp_path_factory.mktemp("src") / "sseft-eeg"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    res = pip(
        "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(src)
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (target / "sseft_eeg.py").is_file() and list(target.glob("sseft_eeg-0.1.0.dist-info"))
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(target))
    mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])))
    reset_manager()
    yield target
    mp.undo()
    reset_manager()
    sys.modules.pop("sseft_eeg", None)


def test_plugin_is_listed(installed) -> None:
    from tests.conftest import run_cli

    res = run_cli("plugins")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    k = next(i for i, x in enumerate(lines) if x.startswith("eeg "))
    assert lines[k] == "eeg          sseft-eeg 0.1.0  [ok]  (sseft_eeg)"
    assert lines[k + 1] == "    modalities  eeg"
    import sseft_eeg

    assert Path(sseft_eeg.__file__).parent == installed  # from the temporary target, not the venv


def test_plugin_matches_the_documented_contract(installed) -> None:
    """docs/plugins.md: `input_kinds`, `suffixes`, and the extractor config in the fingerprint."""
    from sseft.core.plugins import get_modality

    plugin = get_modality("eeg")
    assert plugin.input_kinds == ("eeg",) and plugin.suffixes == (".npy", ".safetensors")
    fp = plugin.build_extractor({"random_init": True, "channels": 4}).fingerprint()
    assert fp["config"] == plugin.config_model(random_init=True, channels=4).model_dump(mode="json")
    docs = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert 'input_kinds = ("eeg",)' in docs and '"config": <the extractor config as JSON>' in docs


def test_eeg_reader_and_bad_recordings(installed, tmp_path) -> None:
    from sseft.core.plugins import get_modality

    ex = get_modality("eeg").build_extractor({"random_init": True, "channels": 4, "sample_rate": 100})
    np.save(tmp_path / "ok.npy", np.random.default_rng(0).standard_normal((4, 130)).astype(np.float32))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "wrong.npy", np.zeros((3, 100), np.float32))
    from safetensors.numpy import save_file

    save_file({"eeg": np.ones((4, 50), np.float32)}, str(tmp_path / "rec.safetensors"))
    out = ex(
        [tmp_path / "ok.npy", tmp_path / "rec.safetensors", tmp_path / "objects.npy", tmp_path / "wrong.npy"]
    )
    assert out[0].shape == (6, 64)  # 130 samples / 25-sample patches -> 6 (the last one zero-padded)
    assert out[1].shape == (2, 64)
    assert "not a plain numeric" in str(out[2]) and "3 channels" in str(out[3])
    assert ex.fingerprint()["modality"] == "eeg" and ex.fingerprint()["random_init"] is True


def test_extract_four_modalities_and_train(installed, tmp_path) -> None:
    from sseft.core.extraction import extract_items
    from sseft.core.features import FeatureStore

    torch.set_num_threads(1)
    rob, w2v = mf.tiny_roberta(tmp_path / "rob"), mf.tiny_wav2vec2(tmp_path / "w2v")
    rng = np.random.default_rng(0)
    items = []
    for i in range(8):
        np.save(tmp_path / f"e{i}.npy", rng.standard_normal((8, 256 + 32 * i)).astype(np.float32))
        clip = mf.write_mp4(tmp_path / f"c{i}.mp4", faces=[True, i % 2 == 0], audio_seconds=0.4)
        inputs = {
            "text": f"hello world {'test ' * i}",
            "speech": clip,
            "face": clip,
            "eeg": tmp_path / f"e{i}.npy",
        }
        items.append(Item(f"x{i}", "train" if i < 6 else "valid", i % 2, inputs))
    configs = {
        "text": {"model": str(rob)},
        "speech": {"model": str(w2v)},
        "face": {"random_init": True, "detector_max_size": 64, "confidence": 0.5, "fps": 5},
        "eeg": {"random_init": True},
    }
    summary = extract_items(
        items,
        TaskInfo("multiclass", ("calm", "excited")),
        configs,
        tmp_path / "store",
        batch_size=4,
        progress=False,
        threads=1,
    )
    assert (summary.done, summary.failed) == (8, 0), summary.line()
    store = FeatureStore.open(tmp_path / "store")
    assert list(store.modalities) == ["text", "speech", "face", "eeg"]
    assert store.modalities["eeg"].fingerprint["modality"] == "eeg"
    assert store.get("x3")["features"]["eeg"].shape == (
        6,
        64,
    )  # 352 samples, 64-sample patches (0.25 s at 256 Hz)
    model = train_a_few_steps(tmp_path / "store", tmp_path / "run")
    # Raw inputs -> prediction: the EEG extractor is rebuilt from the fingerprint's config.
    pred = model.predict(text="hello world", video=tmp_path / "c0.mp4", eeg=tmp_path / "e0.npy")
    assert pred.label in ("calm", "excited") and "eeg" in pred.modalities_used


def train_a_few_steps(store: Path, out: Path) -> torch.nn.Module:
    """The training helper's loop (core/training) on the 4-modality store: two short epochs."""
    from sseft.core.training.config import ExperimentConfig
    from sseft.core.training.trainer import train

    cfg = ExperimentConfig.model_validate(
        {
            "name": "eeg-4mod",
            "data": {"store": str(store), "test_split": None},
            "fusion": {"n_self": 1, "heads": 2, "ffn_dim": 32, "dropout": 0.0, "attn_dropout": 0.0},
            "head": {"name": "multiclass"},
            "train": {"epochs": 2, "batch_size": 3, "lr": 1e-3, "log_every": 1},
        }
    )
    result = train(cfg, out, plots=False, progress=False)
    assert [r["global_step"] for r in result.history] == [2, 4]  # 6 train items, batch 3: 2 steps per epoch
    assert all(np.isfinite(r["train_loss"]) for r in result.history)
    mods = result.model.config.modalities
    assert [m.name for m in mods] == ["text", "speech", "face", "eeg"]
    assert mods[3].fingerprint["modality"] == "eeg"  # loading it later needs the plugin
    return result.model
