"""Long recordings outside the service: `sseft predict --segments` (table, CSV, plot) and the
Python API `sseft.serve.predict_timeline`, with Silero VAD finding the speech of a real espeak-ng
recording between silences, and an SRT transcript giving each segment its words."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from . import tiny_models as tm

SPEECH = Path(__file__).resolve().parents[1] / "plugins" / "modalities" / "data" / "espeak_hello.flac"
SRT = "1\n00:00:01,200 --> 00:00:02,000\nhello there\n\n2\n00:00:06,500 --> 00:00:07,500\nthe tiny test\n"


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1 s quiet, speech (4.1 s), 2 s quiet, speech, 1 s quiet: a 12.3 s wav, and its SRT."""
    import soundfile as sf

    speech, sr = sf.read(SPEECH, dtype="float32")
    rng = np.random.default_rng(0)

    def quiet(s: float) -> np.ndarray:
        return (rng.standard_normal(int(s * sr)) * 1e-4).astype(np.float32)

    wave = np.concatenate([quiet(1.0), speech, quiet(2.0), speech, quiet(1.0)])
    d = tmp_path_factory.mktemp("talk")
    sf.write(d / "talk.wav", wave, sr)
    (d / "talk.srt").write_text(SRT)
    return d / "talk.wav", d / "talk.srt"


def test_vad_segments_follow_the_speech(
    served_home: tm.Served, talk: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("silero_vad", reason="silero-vad is not installed (pip install --no-deps silero-vad)")
    import sseft
    from sseft.serve import predict_timeline

    monkeypatch.setenv("SSEFT_HOME", str(served_home.home))
    predictor = sseft.load("tiny-av").predictor(allow_missing=True)
    tl = predict_timeline(predictor, audio=talk[0], transcript=talk[1], segments="vad", window=3.0)
    assert tl.mode == "vad" and abs(tl.duration - 12.28) < 0.05
    starts = [r.start for r in tl.rows]
    assert abs(starts[0] - 1.0) < 0.4  # the first speech, not the leading silence
    assert not any(5.4 < (r.start + r.end) / 2 < 6.9 for r in tl.rows)  # nothing in the silent gap
    assert any(abs(s - 7.1) < 0.4 for s in starts)  # the second speech starts a segment
    assert all(r.end - r.start <= 1.25 * 3.0 + 1e-6 for r in tl.rows)
    words = [r.text for r in tl.rows if r.text]
    assert words == ["hello there", "the tiny test"]
    assert all(r.error is None and r.label in ("neg", "pos") for r in tl.rows)


def test_cli_segments_writes_csv_and_plot(
    served_home: tm.Served, talk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sseft.cli.main import cli

    monkeypatch.setenv("SSEFT_HOME", str(served_home.home))
    out, plot = tmp_path / "tl.csv", tmp_path / "tl.png"
    args = ["predict", "--model", "tiny-av", "--audio", str(talk[0]), "--allow-missing", "--segments", "fixed",
            "--segment-seconds", "4", "--transcript", str(talk[1]), "--out", str(out), "--plot", str(plot)]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "3 segments (fixed) over 12.3 s" in r.output and "[hello there]" in r.output
    rows = list(csv.DictReader(out.open()))
    assert [(row["start"], row["end"]) for row in rows] == [
        ("0.000", "4.000"),
        ("4.000", "8.000"),
        ("8.000", "12.280"),
    ]
    assert [row["text"] for row in rows] == ["hello there", "the tiny test", ""]
    assert all(abs(float(row["prob_neg"]) + float(row["prob_pos"]) - 1) < 1e-5 for row in rows)
    assert plot.read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(cli, ["predict", "--model", "tiny-av", "--text", "hi", "--segments", "fixed"])
    assert bad.exit_code == 2 and "--segments needs a recording" in bad.output
    bad = CliRunner().invoke(cli, ["predict", "--model", "tiny-av", "--text", "hi", "--plot", str(plot)])
    assert bad.exit_code == 2 and "go with --segments" in bad.output


def test_same_timeline_from_the_service(
    client: Any, talk: tuple[Path, Path], served_home: tm.Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's timeline for a clip equals the Python API's (one prediction path)."""
    import sseft
    from sseft.serve import predict_timeline

    monkeypatch.setenv("SSEFT_HOME", str(served_home.home))
    with talk[0].open("rb") as f:
        r = client.post(
            "/v1/models/tiny-text/predict",
            files={
                "audio": ("talk.wav", f, "audio/wav"),
                "transcript": ("t.srt", SRT.encode(), "application/x-subrip"),
            },
            data={"segments": "fixed", "segment_seconds": "4"},
        )
    assert r.status_code == 200, r.text
    served = r.json()["timeline"]
    local = predict_timeline(
        sseft.load("tiny-text"), audio=talk[0], transcript=talk[1], segments="fixed", window=4.0
    ).to_dict()
    assert [s["probabilities"] for s in served["segments"]] == [s["probabilities"] for s in local["segments"]]
    assert [s["text"] for s in served["segments"]] == ["hello there", "the tiny test", ""]
