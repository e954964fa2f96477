"""Demo clips: raw material for the offline quickstart, made on the spot (`sseft data make-demo-clips DIR`).

    DIR/clips/cNN.mp4      1 s video (a drawn face, 5 fps, 96x64) with an AAC audio track
    DIR/clips/cNN.wav      the same audio as a wav file
    DIR/items.csv          the manifest: id, split, label, text, speech (the wav), face (the mp4),
                           dialogue, turn, speaker (the clips of a split, in order, form short dialogues)
    DIR/speech-encoder/    a tiny randomly initialised wav2vec2, saved with save_pretrained
    DIR/experiment.yaml    a small SSE-FT experiment on DIR/features (where `sseft extract` puts them)
    DIR/experiment-context.yaml  the same on text alone, with dialogue context (the 4 turns before)
    DIR/conversation.jsonl a short conversation (speaker, text per line) for `sseft predict --conversation`

Labels are `positive` / `negative`; the transcript says which (warm or gloomy words), the audio
tone is higher for positive clips and the face brighter, so a model trained on them has
something to learn from every modality. Nothing is downloaded: with `text.model=minilm-offline`,
`speech.model=DIR/speech-encoder` and `face.random_init=true` the whole route from these clips
to `sseft predict` runs offline (docs/quickstart.md).

Nothing heavy at import: numpy, PyAV, soundfile and transformers load inside the functions.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sseft.core.errors import DataError, os_errors

POSITIVE = ["what", "a", "wonderful", "day", "i", "love", "this", "great", "news", "so", "happy"]
NEGATIVE = ["this", "is", "awful", "i", "hate", "it", "such", "terrible", "news", "so", "sad"]
SR, FPS, SIZE = 16000, 5, (96, 64)  # audio sample rate, video frame rate, (width, height)
EXPERIMENT = """\
# A small SSE-FT model on the demo clips (sseft data make-demo-clips). The store path is relative
# to this file: `sseft extract ... --out DIR/features` writes it.
name: quickstart
data:
  store: features
modalities: [text, speech, face]
fusion: {n_self: 1, n_ima: 1, heads: 2, ffn_dim: 64, dropout: 0.0, attn_dropout: 0.0}
head: {name: multiclass}
train: {epochs: 8, batch_size: 4, lr: 0.001, seed: 0}
"""
CONTEXT_EXPERIMENT = """\
# The text of the demo clips with dialogue context: each clip also sees the (up to) 4 clips before it
# in its dialogue (items.csv: dialogue, turn, speaker). See docs/conversations.md.
name: quickstart-context
data:
  store: features
modalities: [text]
fusion: {n_self: 1, n_ima: 1, heads: 2, ffn_dim: 64, dropout: 0.0, attn_dropout: 0.0}
head: {name: multiclass}
context: {window: 4, direction: past, speaker: true, dim: 32, heads: 2}
train: {epochs: 8, batch_size: 4, lr: 0.001, seed: 0}
"""
SPEAKERS = ("ann", "bob")


def conversation(n_turns: int = 6) -> list[dict[str, str]]:
    """A short conversation in the clips' words, good news turning bad (one JSON object per turn)."""
    labels = ["positive"] * (n_turns // 2) + ["negative"] * (n_turns - n_turns // 2)
    return [{"speaker": SPEAKERS[k % 2], "text": transcript(label, k + 3)} for k, label in enumerate(labels)]


def transcript(label: str, k: int) -> str:
    words = POSITIVE if label == "positive" else NEGATIVE
    n = 4 + k % 4
    return " ".join(words[(k + i) % len(words)] for i in range(n))


def _audio(label: str, k: int, seconds: float = 1.0) -> Any:
    """(samples,) float32: a tone (330 Hz positive, 165 Hz negative) with a little noise."""
    import numpy as np

    rng = np.random.default_rng(k)
    t = np.arange(int(SR * seconds)) / SR
    f0 = (330.0 if label == "positive" else 165.0) * (1 + 0.03 * (k % 5))
    x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.standard_normal(t.shape)
    return x.astype(np.float32)


def _frame(label: str, k: int, i: int) -> Any:
    """(H, W, 3) uint8: a grey background with a skin-toned oval face and two eyes."""
    import numpy as np

    w, h = SIZE
    img = np.full((h, w, 3), 40, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = w // 2 + (i % 3) - 1, h // 2
    face = ((xx - cx) / (w / 6)) ** 2 + ((yy - cy) / (h / 4)) ** 2 <= 1
    tone = (235, 195, 165) if label == "positive" else (170, 130, 110)
    img[face] = tone
    for ex in (cx - w // 16, cx + w // 16):
        eye = (xx - ex) ** 2 + (yy - (cy - h // 12)) ** 2 <= 2
        img[eye] = 20
    mouth = (abs(xx - cx) <= w // 14) & (yy == cy + h // 8 + (0 if label == "positive" else 2))
    img[mouth] = 60
    return img


def write_clip(mp4: Path, wav: Path, label: str, k: int) -> None:
    import av
    import numpy as np
    import soundfile as sf

    audio = _audio(label, k)
    sf.write(str(wav), audio, SR)
    with av.open(str(mp4), "w") as c:
        vs = c.add_stream("mpeg4", rate=FPS)
        vs.width, vs.height = SIZE
        vs.pix_fmt = "yuv420p"
        ast = c.add_stream("aac", rate=SR, layout="mono")
        for i in range(FPS):  # one second of video
            for p in vs.encode(av.VideoFrame.from_ndarray(_frame(label, k, i), format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        fr = av.AudioFrame.from_ndarray(audio[np.newaxis, :].copy(), format="fltp", layout="mono")
        fr.sample_rate = SR
        for p in ast.encode(fr):
            c.mux(p)
        for p in ast.encode(None):
            c.mux(p)


def make_demo_clips(out: Path, n_items: int = 24, seed: int = 0) -> Path:
    """Write the clips, the manifest and the speech encoder under `out`; returns the manifest."""
    if n_items < 8:
        raise DataError(f"--items {n_items}: need at least 8 (train, valid and test need both labels)")
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: already exists and is not empty; choose a new directory")
    clips = out / "clips"
    with os_errors(out, "the demo clips are incomplete: remove the folder and run again"):
        clips.mkdir(parents=True, exist_ok=True)
        rows = []
        for k in range(n_items):
            label = "positive" if k % 2 == 0 else "negative"
            # of every 8 clips: 4 train, 2 valid, 2 test, each with both labels
            split = "train" if k % 8 < 4 else "valid" if k % 8 < 6 else "test"
            name = f"c{k:02d}"
            write_clip(clips / f"{name}.mp4", clips / f"{name}.wav", label, seed * 1000 + k)
            # a dialogue: the clips of one split within a block of 8 (never across splits), in order
            turn = k % 8 - {"train": 0, "valid": 4, "test": 6}[split]
            media = [f"clips/{name}.wav", f"clips/{name}.mp4"]
            dialogue = [f"d{k // 8}-{split}", turn, SPEAKERS[turn % 2]]
            rows.append([name, split, label, transcript(label, k), *media, *dialogue])
        from sseft.plugins.modalities.tiny import tiny_wav2vec2

        tiny_wav2vec2(out / "speech-encoder", seed)
        (out / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
        (out / "experiment-context.yaml").write_text(CONTEXT_EXPERIMENT, encoding="utf-8")
        lines = [json.dumps(turn) + "\n" for turn in conversation()]
        (out / "conversation.jsonl").write_text("".join(lines), encoding="utf-8")
        manifest = out / "items.csv"
        with open(manifest, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "split", "label", "text", "speech", "face", "dialogue", "turn", "speaker"])
            w.writerows(rows)
    return manifest
