"""Test material built on the spot: tiny random-init encoders saved with save_pretrained, and real
media files (wav/flac via soundfile, mp4 with audio and/or video via PyAV). Shared by the modality
and extraction tests (tests/core/test_extraction*.py add this folder to sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A small vocabulary for generated utterances (the tiny tokenizers are trained on any text).
WORDS = ["hello", "world", "this", "is", "a", "test", "of", "the", "tiny", "tokenizer", "for", "sseft"]
WORDS += ["speech", "text", "face", "fusion"]


def tiny_roberta(d: Path, max_positions: int = 40) -> Path:
    """A 2-layer RoBERTa (hidden 32) with a byte-level BPE tokenizer: `<s>` first, `</s>` last."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    d.mkdir(parents=True, exist_ok=True)
    tok = ByteLevelBPETokenizer()
    corpus = ["hello world this is a test of the tiny tokenizer for sseft", "speech text face fusion"] * 10
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(
        corpus, vocab_size=300, min_frequency=1, special_tokens=specials, show_progress=False
    )
    tok.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )
    fast.save_pretrained(d)
    torch.manual_seed(0)
    cfg = RobertaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions + 2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    RobertaModel(cfg).save_pretrained(d)
    return d


def tiny_wav2vec2(d: Path) -> Path:
    """A 2-layer wav2vec2 (hidden 32) with the standard conv front end (400-sample field, 320 hop)."""
    from sseft.plugins.modalities.tiny import tiny_wav2vec2 as build

    return build(d, seed=0)


def noise(seconds: float, sr: int, channels: int = 2, seed: int = 0, amp: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((int(round(seconds * sr)), channels)) * amp).astype(np.float32)


def write_audio(path: Path, seconds: float, sr: int, channels: int = 2, seed: int = 0) -> Path:
    import soundfile as sf

    sf.write(str(path), noise(seconds, sr, channels, seed), sr)
    return path


def frame_with_face(h: int, w: int, face: bool, shift: int = 0) -> np.ndarray:
    """A grey frame; with `face`, a bright skin-toned oval with two dark eyes (what the stub detector finds)."""
    img = np.full((h, w, 3), 40, np.uint8)
    if face:
        import cv2

        cx, cy = w // 2 + shift, h // 2
        cv2.ellipse(img, (cx, cy), (w // 6, h // 4), 0, 0, 360, (220, 180, 150), -1)
        cv2.circle(img, (cx - w // 16, cy - h // 12), max(1, w // 50), (20, 20, 20), -1)
        cv2.circle(img, (cx + w // 16, cy - h // 12), max(1, w // 50), (20, 20, 20), -1)
    return img


def write_mp4(
    path: Path,
    faces: list[bool] | None = None,
    fps: int = 5,
    size: tuple[int, int] = (96, 64),
    audio_seconds: float | None = None,
    sr: int = 16000,
) -> Path:
    """An mp4 (mpeg4 video, one frame per entry of `faces`; aac audio of `audio_seconds`)."""
    import av

    with av.open(str(path), "w") as c:
        vs = None
        if faces is not None:
            vs = c.add_stream("mpeg4", rate=fps)
            vs.width, vs.height = size
            vs.pix_fmt = "yuv420p"
        ast = c.add_stream("aac", rate=sr, layout="stereo") if audio_seconds else None
        if vs is not None:
            for i, f in enumerate(faces or []):
                img = frame_with_face(size[1], size[0], f, shift=i)
                for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if ast is not None:
            x = noise(audio_seconds or 0.0, sr, 2).T.copy()  # (2, N)
            fr = av.AudioFrame.from_ndarray(x, format="fltp", layout="stereo")
            fr.sample_rate = sr
            for p in ast.encode(fr):
                c.mux(p)
            for p in ast.encode(None):
                c.mux(p)
    return path


def truncated_copy(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
