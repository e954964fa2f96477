"""MMSA-format MOSI features (768-d BERT text, 5-d COVAREP audio, 20-d FACET vision) with 4 heads and
input projections 64 / 32 / 32, end to end through the public commands: convert, train, publish, load,
evaluate. Tiny sizes: the point is that the path works and the artifact rebuilds the projections."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

DIMS = {"text": 768, "audio": 5, "vision": 20}


def mmsa_mosi_pickle(
    path: Path, sizes: dict[str, int], seed: int = 0, lengths: tuple[int, int, int] = (6, 8, 7)
) -> Path:
    """An MMSA `unaligned_50.pkl`-shaped file: text (N, L, 768) with BERT's mask in `text_bert`,
    audio (N, L, 5), vision (N, L, 20), `*_lengths`, `regression_labels` in [-3, 3]. The label is
    carried by the audio's first channel and the vision's first channel, so there is something to learn."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in sizes.items():
        label = rng.uniform(-3, 3, size=n).astype(np.float32)
        parts = {}
        for m, d, L in zip(DIMS, DIMS.values(), lengths, strict=True):
            x = rng.normal(size=(n, L, d)).astype(np.float32)
            if m != "text":
                x[:, :, 0] += label[:, None]
            parts[m] = x
        bert = np.zeros((n, 3, lengths[0]))
        text_len = rng.integers(2, lengths[0] + 1, size=n)
        for i, k in enumerate(text_len):
            bert[i, 1, :k] = 1  # attention mask row: k real tokens
        data[split] = {
            **parts,
            "text_bert": bert,
            "audio_lengths": rng.integers(1, lengths[1] + 1, size=n).tolist(),
            "vision_lengths": rng.integers(1, lengths[2] + 1, size=n).tolist(),
            "regression_labels": label,
            "id": [f"v{split}{i}$_${i}" for i in range(n)],
            "raw_text": ["words"] * n,
        }
    path.write_bytes(pickle.dumps(data))
    return path


def experiment(path: Path, store: Path, projections: bool, heads: int) -> Path:
    mods = (
        "modalities:\n"
        "  - {name: text, project: {dim: 64}}\n"
        "  - {name: audio, standardize: true, project: {dim: 32, kind: conv1d, kernel: 3}}\n"
        "  - {name: vision, project: {dim: 32}}\n"
        if projections
        else "modalities: [text, audio, vision]\n"
    )
    path.write_text(
        f"name: mmsa-tiny\ndata: {{store: {store}}}\n{mods}"
        f"fusion: {{n_self: 1, n_ima: 1, heads: {heads}, ffn_dim: 32, dropout: 0.0, attn_dropout: 0.0}}\n"
        "head: {name: regression, config: {loss: l1, primary_metric: mae}}\n"
        "train: {epochs: 2, batch_size: 4, lr: 1.0e-3, warmup_ratio: 0.0, num_threads: 1}\n"
    )
    return path


def test_mmsa_pickle_with_projections_end_to_end(tmp_path: Path) -> None:
    import sseft
    from sseft.cli.main import cli

    run = CliRunner()
    pkl = mmsa_mosi_pickle(tmp_path / "unaligned_50.pkl", {"train": 12, "valid": 4, "test": 6})
    store = tmp_path / "store"
    res = run.invoke(cli, ["convert", "pickle", str(pkl), "--out", str(store), "--trust-pickle"])
    assert res.exit_code == 0, res.output

    # without projections, 4 heads cannot split 5-d audio: one line naming the modality and a width that works
    plain = experiment(tmp_path / "plain.yaml", store, projections=False, heads=4)
    res = run.invoke(cli, ["train", str(plain), "--output-dir", str(tmp_path / "refused")])
    assert res.exit_code != 0
    assert "modality 'audio': dim 5 is not divisible by fusion.heads=4" in res.output
    assert "project: {dim: 32}" in res.output

    cfg = experiment(tmp_path / "proj.yaml", store, projections=True, heads=4)
    res = run.invoke(
        cli, ["train", str(cfg), "--output-dir", str(tmp_path / "run"), "--register", "mmsa-tiny"]
    )
    assert res.exit_code == 0, res.output
    assert "registered: mmsa-tiny" in res.output

    model = sseft.load("mmsa-tiny")  # rebuilt from the artifact's config.json alone
    specs = {s.name: s for s in model.config.modalities}
    assert {m: (s.dim, s.width) for m, s in specs.items()} == {
        "text": (768, 64), "audio": (5, 32), "vision": (20, 32)
    }  # fmt: skip
    assert specs["audio"].project is not None and specs["audio"].project.kind == "conv1d"
    assert sorted(model.fusion.projections) == ["audio", "text", "vision"]
    # audio standardised with training-split statistics, recorded in the artifact
    st = specs["audio"].standardize
    assert st is not None and specs["text"].standardize is None
    data = pickle.loads(pkl.read_bytes())["train"]
    frames = np.concatenate([a[:n] for a, n in zip(data["audio"], data["audio_lengths"], strict=True)])
    assert (st.split, st.items, st.frames) == ("train", 12, len(frames))
    np.testing.assert_allclose(st.mean, frames.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(st.std, frames.std(0), rtol=1e-5, atol=1e-6)
    assert model.fusion.out_dim == 128
    summary = model.fusion.summary()
    assert "project[audio]" in summary and "conv1d k=3 5->32" in summary
    assert "standardize[audio]" in summary and "12 items" in summary

    res = run.invoke(cli, ["evaluate", "mmsa-tiny", "--data", str(store), "--json"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.output)
    test_metrics = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    # the loaded weights are the trained ones
    assert metrics["mae"] == pytest.approx(test_metrics["mae"], abs=1e-5)


@pytest.mark.parametrize(("name", "dims"), [("mosi", (768, 5, 20)), ("mosei", (768, 74, 35))])
def test_mmsa_variant_configs_build_at_the_standard_widths(name: str, dims: tuple[int, int, int]) -> None:
    """configs/<name>-mmsa.yaml validates and builds a model for MMSA's standard feature widths, which
    configs/<name>.yaml (no projections, 4 heads) refuses."""
    import torch

    from sseft.core.config import load_config
    from sseft.core.errors import ConfigError
    from sseft.core.fusion import SSEFTFusion
    from sseft.core.specs import ModalitySpec
    from sseft.core.training.config import ExperimentConfig, ModalityChoice

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(ExperimentConfig, repo / "configs" / f"{name}-mmsa.yaml")
    choices = [m for m in cfg.modalities or [] if isinstance(m, ModalityChoice)]
    assert [c.name for c in choices] == ["text", "audio", "vision"]
    specs = [
        ModalitySpec(name=c.name, dim=d, max_len=50, project=c.project, heads=c.heads)
        for c, d in zip(choices, dims, strict=True)
    ]
    with torch.device("meta"):
        model = SSEFTFusion(specs, cfg.fusion)
    assert model.parameter_count() > 0 and sorted(model.projections) == ["audio", "text", "vision"]
    plain = load_config(ExperimentConfig, repo / "configs" / f"{name}.yaml")
    bare = [ModalitySpec(name=c.name, dim=d, max_len=50) for c, d in zip(choices, dims, strict=True)]
    with pytest.raises(ConfigError, match="modality 'audio'"), torch.device("meta"):
        SSEFTFusion(bare, plain.fusion)
