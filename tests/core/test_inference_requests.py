"""core/inference/requests.py: a user's inputs (flags, a manifest) -> the Predictor's inputs, with
one clear line for bad input. No model needed: a stand-in predictor declares the input kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sseft.core.errors import ConfigError, DataError
from sseft.core.inference.requests import item_inputs, manifest_rows


class _Kinds:
    def input_kinds(self) -> dict[str, tuple[str, ...]]:
        return {"text": ("text",), "speech": ("audio", "video"), "face": ("video",)}


def test_item_inputs_read_the_text_file_and_plugin_kinds(tmp_path: Path) -> None:
    t = tmp_path / "x.txt"
    t.write_text("  hello there \n", encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"")  # only its existence is checked here; the reader opens it later
    got = item_inputs(text_file=t, audio=tmp_path / "a.wav", extra=["eeg=rec.npy", " ecg =r.npy"])
    assert got == {"text": "hello there", "audio": tmp_path / "a.wav", "eeg": "rec.npy", "ecg": "r.npy"}
    with pytest.raises(DataError, match=r"v\.mp4: --video file not found"):
        item_inputs(text="hi", video=tmp_path / "v.mp4")  # before any model or encoder is built
    with pytest.raises(ConfigError, match="not both"):
        item_inputs(text="a", text_file=t)
    with pytest.raises(DataError, match=r"nope\.txt: text file not found"):
        item_inputs(text_file=tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match=r"--input 'eeg': expected KIND=VALUE"):
        item_inputs(extra=["eeg"])


def test_manifest_rows_route_columns_and_keep_bad_rows_as_errors(tmp_path: Path) -> None:
    m = tmp_path / "items.csv"
    m.write_text("id,label,text,face,other\nu1,happy,hi,clips/u1.mp4,x\n,sad,yo,,\nu3,,,/abs/u3.mp4,\n")
    rows, extra = manifest_rows(_Kinds(), m)
    assert extra == ["true_label"]
    u1, empty, u3 = rows
    assert u1.id == "u1" and u1.inputs["text"] == "hi" and "other" not in u1.inputs
    # a face video also feeds the video readers (speech's audio track); relative to the manifest
    assert u1.inputs["face"] == u1.inputs["video"] == tmp_path / "clips/u1.mp4"
    assert u1.inputs["_extra"] == {"true_label": "happy"}
    assert empty.error == "line 3: empty id"
    assert u3.inputs["face"] == Path("/abs/u3.mp4") and "text" not in u3.inputs


def test_manifest_without_id_or_usable_columns_is_one_line(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("ident,text\nu1,hi\n")
    with pytest.raises(DataError, match=r"a\.csv: no column 'id' \(columns: ident, text\)"):
        manifest_rows(_Kinds(), a)
    b = tmp_path / "b.csv"
    b.write_text("id,eeg\nu1,r.npy\n")
    with pytest.raises(DataError, match=r"no column this model reads .*expected some of audio, face"):
        manifest_rows(_Kinds(), b)
