"""`sseft data check --probe` decodes what extraction decodes; exit 1 when something must be fixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from click.testing import CliRunner
from conftest import write_video, write_wav

from sseft.cli.main import cli
from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def bad_media(d: Path) -> dict[str, Path]:
    """One file per fault extraction refuses, plus a good and an all-zero wav."""
    d.mkdir(parents=True, exist_ok=True)
    good = write_wav(d / "good.wav")
    raw = good.read_bytes()
    (d / "truncated.wav").write_bytes(raw[: len(raw) // 2])  # header declares more than is there
    sf.write(str(d / "zero_frames.wav"), np.zeros(0, np.float32), 16000)
    x = np.full(4000, 0.1, np.float32)
    x[10] = np.nan
    sf.write(str(d / "nan.wav"), x, 16000, subtype="FLOAT")
    y = np.full(4000, 0.1, np.float32)
    y[5] = np.inf
    sf.write(str(d / "inf.wav"), y, 16000, subtype="FLOAT")
    (d / "empty.wav").write_bytes(b"")
    sf.write(str(d / "silent.wav"), np.zeros(4000, np.float32), 16000)
    write_video(d / "clip.mp4")
    return {p.stem: p for p in d.iterdir()}


def test_probe_decodes_what_extraction_decodes(tmp_path: Path) -> None:
    bad_media(tmp_path / "m")
    rows = ["id,split,label,speech,face"]
    for i, name in enumerate(["good", "truncated", "zero_frames", "nan", "inf", "empty", "silent"]):
        rows.append(f"{name},train,{'ab'[i % 2]},m/{name}.wav,m/clip.mp4")
    rows.append("wavface,train,a,m/good.wav,m/good.wav")  # a wav given as face input
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    plain = invoke("data", "check", str(manifest))
    assert plain.exit_code == 0, plain.output  # without --probe every file exists: ok
    res = invoke("data", "check", str(manifest), "--probe", "--limit", "50")
    assert res.exit_code == 1, res.output
    out = res.output
    assert "truncated: speech file" in out and "truncated WAV" in out
    assert "zero_frames: speech file" in out and "audio is empty (0 samples)" in out
    assert "nan: speech file" in out and "inf: speech file" in out and "NaN or infinite" in out
    assert "empty: speech file" in out and "file is empty (0 bytes)" in out
    assert "Invalid data" not in out  # a 0-byte file is 'empty', not a PyAV decoder message
    assert "wavface: face file" in out and "no video stream" in out
    assert "good: " not in out.split("notes")[0] and "silent: speech file" not in out.split("notes")[0]
    assert "silent: speech file" in out and "all zeros" in out  # a note, not a problem
    rep = MANIFEST.check(ManifestConfig(root=manifest, probe_media=True))
    assert len(rep.problems) == 6, rep.problems  # truncated, 0-frame, NaN, inf, 0-byte, wav-as-face


def test_check_exit_code_follows_the_missing_policy(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    m = tmp_path / "m.csv"
    m.write_text("id,split,label,speech\nu1,train,a,a.wav\nu2,train,b,gone.wav\n")
    res = invoke("data", "check", str(m))  # default missing_media: error -> extraction would stop
    assert res.exit_code == 1 and "gone.wav not found (m.csv line 3)" in res.output
    assert "NOT OK" in res.output and "missing-media policy is 'error'" in res.output
    res = invoke("data", "check", str(m), "--set", "missing_media=partial")
    assert res.exit_code == 0 and res.output.rstrip().endswith("ok")
    res = invoke("data", "check", "--help")
    assert "Exits 1 when something must be fixed" in " ".join(res.output.split())
