"""Raw-level noise on a text-only model: the text is perturbed (word drop, typos) and re-extracted
per level through the model's own encoder, rebuilt from its fingerprint (a tiny local RoBERTa)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import sseft
from sseft.core.robustness.evaluate import forward_items, load_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402
import robhelpers as rh  # noqa: E402


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("rawtext")
    rob = mf.tiny_roberta(root / "roberta")
    lines = ["id,split,label,text"]
    for i in range(24):
        split = "train" if i < 16 else "test"
        words = [mf.WORDS[(i * 5 + k) % len(mf.WORDS)] for k in range(4 + i % 4)]
        label = "pos" if "hello" in words or "tokenizer" in words else "neg"
        lines.append(f"u{i},{split},{label},{' '.join(words)}")
    manifest = root / "items.csv"
    manifest.write_text("\n".join(lines) + "\n")

    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.common import resolve_dataset

    plugin, dcfg = resolve_dataset("manifest", manifest)
    store = root / "store"
    summary = extract_items(list(plugin.items(dcfg)), plugin.task(dcfg), {"text": {"model": str(rob)}}, store,
                            batch_size=8, threads=1, progress=False)  # fmt: skip
    assert summary.failed == 0, summary.line()
    model = rh.saved(rh.fit(rh.build(store), store, epochs=3), root / "model")
    return {"model": model, "store": store, "manifest": manifest}


@pytest.fixture(scope="module")
def raw_result(text_model):
    return sseft.robustness(text_model["model"], text_model["store"], kinds=["gaussian"], n_levels=4,
                            raw=text_model["manifest"], limit=6)  # fmt: skip


def test_level_zero_reextraction_reproduces_the_store(text_model, raw_result) -> None:
    from sseft.core.features import FeatureStore

    raw = raw_result.data["raw_noise"]
    assert raw["n_items"] == 6 and raw["ids"] == [f"u{i}" for i in range(16, 22)]
    data = load_split(FeatureStore.open(text_model["store"]), "test", ["text"])
    feats = [data.features[data.ids.index(i)] for i in raw["ids"]]
    labels = [data.labels[data.ids.index(i)] for i in raw["ids"]]
    model = text_model["model"]
    out, _ = forward_items(model, feats)
    want = model.head.metrics(out, torch.as_tensor(labels))["weighted_f1"]
    for kind in ("word_drop", "typo"):
        curve = raw["curves"]["model"][kind]["text"]
        assert len(curve) == 4 and curve[0] == pytest.approx(want, abs=1e-12)
    assert raw["absent"]["word_drop"]["text"][0] == 0


def test_raw_noise_is_seeded_and_reaches_the_encoder(text_model, raw_result, monkeypatch) -> None:
    from sseft.core.robustness import raw as raw_mod

    seen: list[list[object]] = []
    real = raw_mod.extract_features

    def spy(predictor, modality, raws):
        seen.append(list(raws))
        return real(predictor, modality, raws)

    monkeypatch.setattr(raw_mod, "extract_features", spy)
    again = sseft.robustness(text_model["model"], text_model["store"], kinds=["gaussian"], n_levels=4,
                             raw=text_model["manifest"], limit=6)  # fmt: skip
    assert again.data["raw_noise"]["curves"] == raw_result.data["raw_noise"]["curves"]
    clean, *noisy = seen
    assert all(isinstance(t, str) for t in clean)
    # word drop at 0.75 removes words (absent when nothing is left); typos keep the word count
    drop_top, typo_top = noisy[2], noisy[5]
    assert sum(len(str(t or "").split()) for t in drop_top) < sum(len(t.split()) for t in clean)  # type: ignore[union-attr]
    assert [len(str(t).split()) for t in typo_top] == [len(str(t).split()) for t in clean]
    assert typo_top != clean


def test_raw_files_and_errors(text_model, raw_result, tmp_path) -> None:
    files = raw_result.write(tmp_path / "out")
    assert {p.name for p in files} >= {"raw_word_drop.png", "raw_typo.png", "robustness.md"}
    assert "## Raw-level noise" in (tmp_path / "out" / "robustness.md").read_text()
    from sseft.core.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="--raw-dataset"):
        sseft.robustness(text_model["model"], text_model["store"], kinds=["gaussian"], n_levels=2,
                         raw=tmp_path)  # fmt: skip
    with pytest.raises(DataError, match="not found"):
        sseft.robustness(text_model["model"], text_model["store"], kinds=["gaussian"], n_levels=2,
                         raw=tmp_path / "nope.csv")  # fmt: skip


def test_models_sharing_an_encoder_extract_each_noisy_input_once(text_model, monkeypatch) -> None:
    from sseft.core.robustness import raw as raw_mod

    calls: list[int] = []
    real = raw_mod.extract_features

    def spy(predictor, modality, raws):
        calls.append(len(raws))
        return real(predictor, modality, raws)

    monkeypatch.setattr(raw_mod, "extract_features", spy)
    r = sseft.robustness(text_model["model"], text_model["store"], kinds=["gaussian"], n_levels=3,
                         raw=text_model["manifest"], limit=3, baseline=text_model["model"])  # fmt: skip
    assert len(calls) == 1 + 2 * 2  # clean + (word_drop, typo) x levels 1, 2: once for both models
    raw = r.data["raw_noise"]
    assert raw["curves"]["baseline"] == raw["curves"]["model"]
    assert all(v == 0.0 for v in raw["effective_robustness"]["word_drop"].values())
