"""Tiny randomly initialised encoders saved with `save_pretrained`: stand-ins for smoke runs (the
offline quickstart's speech encoder, plugins/datasets/demo_clips.py) and tests. Not a model of
anything: their features carry only what the input's waveform does through random weights."""

from __future__ import annotations

from pathlib import Path


def tiny_wav2vec2(d: Path, seed: int = 0) -> Path:
    """A 2-layer wav2vec2 (hidden 32) with the standard conv front end (400-sample field, 320 hop)
    and seeded random weights, saved under `d`."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    cfg = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    Wav2Vec2Model(cfg).save_pretrained(d)
    return d
