"""Generic manifest plugin: CSV and JSONL, inline text and relative media paths, excellent errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_video, write_wav
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig


def make_csv(tmp_path: Path, body: str, media: bool = True) -> Path:
    if media:
        write_wav(tmp_path / "clips" / "u1.wav")
        write_video(tmp_path / "clips" / "u1.mp4")
        write_wav(tmp_path / "clips" / "u2.wav")
    p = tmp_path / "manifest.csv"
    p.write_text(body, encoding="utf-8")
    return p


GOOD = (
    "id,split,label,text,speech,face\n"
    'u1,train,happy,"I love it, really ""truly""",clips/u1.wav,clips/u1.mp4\n'
    "u2,dev,sad,Ünïcödé — ok,clips/u2.wav,\n"
)


def test_csv_items(tmp_path: Path) -> None:
    cfg = ManifestConfig(root=make_csv(tmp_path, GOOD), label_names=["sad", "happy"], missing_media="partial")
    items = {it.id: it for it in MANIFEST.items(cfg)}
    u1, u2 = items["u1"], items["u2"]
    assert u1.inputs["text"] == 'I love it, really "truly"' and u1.label == 1 and u1.split == "train"
    assert (
        u1.inputs["speech"] == tmp_path / "clips" / "u1.wav"
        and u1.inputs["face"] == tmp_path / "clips" / "u1.mp4"
    )
    assert u2.split == "valid" and u2.label == 0 and u2.inputs["text"] == "Ünïcödé — ok"
    assert "face" not in u2.inputs and u2.meta["missing"] == ["face"]  # empty cell, policy partial
    assert MANIFEST.task(cfg).label_names == ("sad", "happy")
    # label names inferred (sorted) when not given
    assert MANIFEST.task(cfg.model_copy(update={"label_names": None})).label_names == ("happy", "sad")


def test_missing_file_policies(tmp_path: Path) -> None:
    body = GOOD + "u3,test,sad,hello,clips/nope.wav,clips/u1.mp4\n"
    path = make_csv(tmp_path, body)
    # a named file that does not exist: the missing-file case, naming the file and the manifest line
    with pytest.raises(
        DataError, match=r"u3: speech file \S*clips/nope.wav not found \(manifest.csv line 4\)"
    ):
        list(MANIFEST.items(ManifestConfig(root=path)))  # default policy: error
    dropped = [it.id for it in MANIFEST.items(ManifestConfig(root=path, missing_media="drop"))]
    assert dropped == ["u1"]
    rep = MANIFEST.check(ManifestConfig(root=path, missing_media="drop"))
    assert rep.dropped == 2 and any("nope.wav not found (manifest.csv line 4)" in m for m in rep.missing)
    assert rep.coverage["train"]["speech"] == 1
    partial = {it.id: it for it in MANIFEST.items(ManifestConfig(root=path, missing_media="partial"))}
    assert partial["u3"].meta["missing"] == ["speech"] and "speech" not in partial["u3"].inputs
    assert "nope.wav not found (manifest.csv line 4)" in partial["u3"].meta["missing_reason"]["speech"]


def test_empty_cell_means_the_item_lacks_that_modality(tmp_path: Path) -> None:
    path = make_csv(tmp_path, GOOD)  # u2's face cell is empty, every named file exists
    # default policy (error): no stop; the item is kept without face and extraction records it as a
    # failure with that reason (the engine reads meta["absent"])
    items = {it.id: it for it in MANIFEST.items(ManifestConfig(root=path))}
    u2 = items["u2"]
    assert "face" not in u2.inputs and "missing" not in u2.meta
    assert "no face input: empty cell in column face (manifest.csv line 3)" in u2.meta["absent"]["face"]
    assert "missing_media" in u2.meta["absent"]["face"]  # says how to keep such items
    assert "file" not in u2.meta["absent"]["face"]  # never called a missing file
    # partial: kept without face, recorded
    kept = {it.id: it for it in MANIFEST.items(ManifestConfig(root=path, missing_media="partial"))}
    assert kept["u2"].meta["missing"] == ["face"] and "absent" not in kept["u2"].meta
    rep = MANIFEST.check(ManifestConfig(root=path))
    assert rep.missing == ["u2: no face input: empty cell in column face (manifest.csv line 3)"]
    assert not rep.ok  # under 'error' the item would fail: something to fix
    assert MANIFEST.check(ManifestConfig(root=path, missing_media="partial")).ok


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "u9,holdout,sad,hi,clips/u1.wav,clips/u1.mp4",
            r"line 4: column split: 'holdout' is not a split; expected train, valid",
        ),
        (
            "u9,train,angry,hi,clips/u1.wav,clips/u1.mp4",
            r"line 4: column label: 'angry' is not a class; expected one of sad, happy",
        ),
        (",train,sad,hi,clips/u1.wav,clips/u1.mp4", r"line 4: column id: empty; expected a unique item id"),
        (
            "u9,train,sad,hi,clips/u1.txt,clips/u1.mp4",
            r"line 4: column speech: 'clips/u1.txt' is not a media file",
        ),
        (
            "u9,train,sad,hi, there,clips/u1.wav,clips/u1.mp4",
            r"line 4: 7 fields where the header has 6; quote values",
        ),
    ],
)
def test_row_errors_name_line_column_and_form(tmp_path: Path, row: str, expected: str) -> None:
    path = make_csv(tmp_path, GOOD + row + "\n")
    cfg = ManifestConfig(root=path, label_names=["sad", "happy"], missing_media="partial",
                         modalities={"text": "text", "speech": "file", "face": "file"})  # fmt: skip
    with pytest.raises(DataError, match=expected):
        list(MANIFEST.items(cfg))


def test_check_collects_every_problem_and_duplicates(tmp_path: Path) -> None:
    body = GOOD + "u1,train,sad,again,clips/u1.wav,clips/u1.mp4\nu4,train,angry,x,clips/u1.wav,clips/u1.mp4\n"
    cfg = ManifestConfig(root=make_csv(tmp_path, body), label_names=["sad", "happy"], missing_media="partial")
    rep = MANIFEST.check(cfg)
    assert not rep.ok
    assert rep.duplicates == ["u1 (manifest.csv line 2, manifest.csv line 4)"]
    assert len(rep.problems) == 1 and "line 5: column label" in rep.problems[0]
    # items() stops at the first problem in file order: here the duplicate on line 4
    with pytest.raises(
        DataError, match=r"duplicate item id 'u1' \(manifest.csv line 2 and manifest.csv line 4\)"
    ):
        list(MANIFEST.items(cfg))
    bad_label = GOOD + "u4,train,angry,x,clips/u1.wav,clips/u1.mp4\n"
    with pytest.raises(DataError, match=r"line 4: column label: 'angry'.*run `sseft data check`"):
        list(MANIFEST.items(cfg.model_copy(update={"root": make_csv(tmp_path, bad_label, media=False)})))


def test_jsonl_multilabel_regression_and_bad_lines(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    p = tmp_path / "m.jsonl"
    lines = [
        {"id": 1, "split": "val", "labels": ["happy", "sad"], "text": "x", "audio": "a.wav"},
        {"id": 2, "split": "train", "labels": [0, 1], "text": "y", "audio": str(tmp_path / "a.wav")},
    ]
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    cfg = ManifestConfig(root=p, task="multilabel", label_columns=["labels"], label_names=["happy", "sad"])
    items = list(MANIFEST.items(cfg))
    assert [(it.id, it.split, it.label) for it in items] == [("1", "valid", [1, 1]), ("2", "train", [0, 1])]
    assert items[0].inputs["speech"] == tmp_path / "a.wav"  # the `audio` column feeds speech
    p.write_text(json.dumps(lines[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"m.jsonl: line 2: not valid JSON"):
        list(MANIFEST.items(cfg))
    # regression over two columns
    p.write_text(
        json.dumps({"id": "a", "split": "test", "v": 0.5, "a": "-1", "text": "t"}) + "\n", encoding="utf-8"
    )
    reg = ManifestConfig(root=p, task="regression", label_columns=["v", "a"])
    [item] = list(MANIFEST.items(reg))
    assert item.label == [0.5, -1.0] and MANIFEST.task(reg).label_names == ("v", "a")
    p.write_text(
        json.dumps({"id": "a", "split": "test", "v": "high", "a": 1, "text": "t"}) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"line 1: column v: 'high' is not a number"):
        list(MANIFEST.items(reg))


def test_file_level_errors(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_bytes(b"id,split,label,text\nu1,train,a,caf\xe9\n")
    with pytest.raises(DataError, match=r"m.csv: line 2: not valid UTF-8"):
        list(MANIFEST.items(ManifestConfig(root=p)))
    p.write_text("ident,split,label,text\nu1,train,a,x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no column 'id' \(columns: ident, split, label, text\)"):
        list(MANIFEST.items(ManifestConfig(root=p)))
    with pytest.raises(DataError, match="manifest not found"):
        list(MANIFEST.items(ManifestConfig(root=tmp_path / "absent.csv")))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and "\x00" not in s),
        min_size=1,
        max_size=5,
    )
)
def test_any_text_survives_csv_roundtrip(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    import csv

    d = tmp_path_factory.mktemp("m")
    with open(d / "m.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "split", "label", "text"])
        for i, t in enumerate(texts):
            w.writerow([f"u{i}", "train", "a", t])
    got = [
        it.inputs["text"]
        for it in MANIFEST.items(ManifestConfig(root=d / "m.csv", modalities={"text": "text"}))
    ]
    assert got == texts
