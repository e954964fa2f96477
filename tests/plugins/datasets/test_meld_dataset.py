"""MELD plugin: a generated tree in MELD's layout (real mp4 clips) and the real public CSVs."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from conftest import MELD_DIR, write_video
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.protocols import Item
from sseft.plugins.datasets.meld import EMOTIONS, MELD, SENTIMENTS, MeldConfig, fix_mojibake

HEADER = (
    "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
)
TRAIN_ROWS = [
    # commas + quotes inside a quoted field, non-ASCII, a gap in utterance ids (0, 1, 3)
    '1,"Well, he said ""no"", and left.",Ross,anger,negative,0,0,1,1,"00:00:01,000","00:00:02,000"\n',
    '2,Café au lait — très bien…,Monica,joy,positive,0,1,1,1,"00:00:02,000","00:00:03,000"\n',
    '3,Iâ€™m fine.,Chandler,neutral,neutral,0,3,1,1,"00:00:03,000","00:00:04,000"\n',
    '4,"Multi\nline",Joey,surprise,positive,1,0,1,2,"00:00:01,000","00:00:02,000"\n',
]
DEV_ROWS = ['1,Oh.,Rachel,sadness,negative,0,0,2,3,"00:00:01,000","00:00:02,000"\n']


def make_meld(root: Path, train_rows=TRAIN_ROWS, dev_rows=DEV_ROWS, clips=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train_sent_emo.csv").write_text(HEADER + "".join(train_rows), encoding="utf-8")
    (root / "dev_sent_emo.csv").write_text(HEADER + "".join(dev_rows), encoding="utf-8")
    if clips:
        write_video(root / "train_splits" / "dia0_utt0.mp4")
        write_video(root / "train_splits" / "dia0_utt1.mp4")
        # dia0_utt3 has no clip; dia1_utt0 is unreadable
        (root / "train_splits" / "dia1_utt0.mp4").write_bytes(b"not an mp4 at all")
        write_video(root / "dev_splits_complete" / "dia0_utt0.mp4")
    return root


def by_id(items: list[Item]) -> dict[str, Item]:
    return {it.id: it for it in items}


def test_items_text_labels_and_clips(tmp_path: Path) -> None:
    root = make_meld(tmp_path / "MELD")
    items = by_id(list(MELD.items(MeldConfig(root=root))))
    assert set(items) == {
        "train_dia0_utt0",
        "train_dia0_utt1",
        "train_dia0_utt3",
        "train_dia1_utt0",
        "valid_dia0_utt0",
    }
    a = items["train_dia0_utt0"]
    assert a.inputs["text"] == 'Well, he said "no", and left.'
    assert a.label == EMOTIONS.index("anger") and a.split == "train"
    assert a.inputs["speech"] == root / "train_splits" / "dia0_utt0.mp4" == a.inputs["face"]
    assert items["train_dia0_utt1"].inputs["text"] == "Café au lait — très bien…"
    assert items["train_dia0_utt3"].inputs["text"] == "I’m fine."  # mojibake repaired
    assert items["train_dia1_utt0"].inputs["text"] == "Multi\nline"
    assert items["valid_dia0_utt0"].split == "valid"
    # missing clip: kept text-only by default, and says so
    gap = items["train_dia0_utt3"]
    assert set(gap.inputs) == {"text"} and gap.meta["missing"] == ["speech", "face"]


def test_items_carry_both_label_sets(tmp_path: Path) -> None:
    root = make_meld(tmp_path / "MELD", clips=False)
    for default in ("emotion", "sentiment"):
        cfg = MeldConfig(root=root, labels=default, modalities=["text"])
        task = MELD.task(cfg)
        assert task.name == default and set(task.label_sets) == {"emotion", "sentiment"}
        assert task.label_sets["emotion"].label_names == EMOTIONS
        assert task.label_sets["sentiment"].label_names == SENTIMENTS
        a = by_id(list(MELD.items(cfg)))["train_dia0_utt1"]  # joy, positive
        assert a.labels == {"emotion": EMOTIONS.index("joy"), "sentiment": SENTIMENTS.index("positive")}
        assert a.label == a.labels[default]
    bad = [TRAIN_ROWS[0].replace("negative", "negatve")]  # a bad sentiment is a problem even for emotion
    rep = MELD.check(
        MeldConfig(root=make_meld(tmp_path / "M2", train_rows=bad, clips=False), modalities=["text"])
    )
    assert any("column Sentiment: 'negatve' is not one of" in p for p in rep.problems)


def test_sentiment_labels_and_mojibake_off(tmp_path: Path) -> None:
    root = make_meld(tmp_path / "MELD", clips=False)
    cfg = MeldConfig(root=root, labels="sentiment", fix_mojibake=False, modalities=["text"])
    assert MELD.task(cfg).label_names == SENTIMENTS
    items = by_id(list(MELD.items(cfg)))
    assert [items[i].label for i in ("train_dia0_utt0", "train_dia0_utt1")] == [0, 2]
    assert items["train_dia0_utt3"].inputs["text"] == "Iâ€™m fine."


def test_missing_clip_policies_and_check(tmp_path: Path) -> None:
    root = make_meld(tmp_path / "MELD")
    dropped = by_id(list(MELD.items(MeldConfig(root=root, missing_clip="drop"))))
    assert "train_dia0_utt3" not in dropped and len(dropped) == 4
    with pytest.raises(
        DataError,
        match=r"train_dia0_utt3: speech file \S*dia0_utt3.mp4 not found \(train_sent_emo.csv line 4\); "
        r"restore it, or set missing_clip to 'text_only'",
    ):
        list(MELD.items(MeldConfig(root=root, missing_clip="error")))
    rep = MELD.check(MeldConfig(root=root, probe_clips=True))
    assert any("dia0_utt3.mp4 not found" in m for m in rep.missing)
    assert any("test_sent_emo.csv not found" in n for n in rep.notes)  # test split skipped with a note
    # unreadable clip found by probing, for each modality it feeds, with the decoder's reason
    assert any("speech file" in p and "dia1_utt0.mp4: cannot decode audio" in p for p in rep.problems)
    assert any("face file" in p and "dia1_utt0.mp4: cannot decode video" in p for p in rep.problems)
    assert rep.counts["train"]["anger"] == 1 and "test" not in rep.counts


def test_malformed_rows_and_duplicates(tmp_path: Path) -> None:
    rows = [
        *TRAIN_ROWS[:2],
        '9,Hi,Ross,happyish,positive,2,0,1,1,"00:00:01,000","00:00:02,000"\n',  # unknown emotion
        '10,Hi,Ross,joy,positive,x2,0,1,1,"00:00:01,000","00:00:02,000"\n',  # non-integer dialogue id
        '11,Hi, unquoted,Ross,joy,positive,3,0,1,1,"00:00:01,000","00:00:02,000"\n',  # extra field
        TRAIN_ROWS[0].replace("1,", "12,", 1),  # duplicate dia0_utt0
    ]
    root = make_meld(tmp_path / "MELD", train_rows=rows, clips=False)
    cfg = MeldConfig(root=root, modalities=["text"])
    rep = MELD.check(cfg)
    assert not rep.ok
    assert any("line 4: column Emotion: 'happyish' is not one of" in p for p in rep.problems)
    assert any("line 5: column Dialogue_ID: 'x2' is not a non-negative integer" in p for p in rep.problems)
    assert any("line 6: 12 fields where the header has 11" in p for p in rep.problems)
    assert rep.duplicates and rep.duplicates[0].startswith("train_dia0_utt0")
    with pytest.raises(DataError, match=r"train_sent_emo.csv: line 4: column Emotion"):
        list(MELD.items(cfg))


def test_encodings(tmp_path: Path) -> None:
    root = tmp_path / "MELD"
    root.mkdir()
    rows = HEADER + '1,Caf\u00e9 \u2019s,Ross,joy,positive,0,0,1,1,"00:00:01,000","00:00:02,000"\n'
    (root / "train_sent_emo.csv").write_bytes(rows.encode("cp1252"))  # re-saved by a spreadsheet
    (root / "dev_sent_emo.csv").write_bytes(b"\xef\xbb\xbf" + HEADER.encode())  # BOM, no rows
    auto = MeldConfig(root=root, modalities=["text"])
    [item] = list(MELD.items(auto))
    assert item.inputs["text"] == "Café ’s"
    assert any("not valid UTF-8" in n for n in MELD.check(auto).notes)
    with pytest.raises(DataError, match=r"train_sent_emo.csv: line 2: not valid UTF-8"):
        list(MELD.items(MeldConfig(root=root, modalities=["text"], encoding="utf-8")))


def test_no_csv_at_all_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="none of train_sent_emo.csv"):
        list(MELD.items(MeldConfig(root=tmp_path)))


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="abc XYZ’‘“”…—é", max_size=30))
def test_mojibake_repair_roundtrip(text: str) -> None:
    # a lenient cp1252 decode, as spreadsheet tools do: undefined bytes become U+0081 ... U+009D
    garbled = "".join(_cp1252_char(b) for b in text.encode("utf-8"))
    assert fix_mojibake(garbled) == text
    assert fix_mojibake(text) == text  # clean text is never touched


def _cp1252_char(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)


# -- the real public CSVs ------------------------------------------------------------------------
needs_real = pytest.mark.skipif(
    not (MELD_DIR / "train_sent_emo.csv").is_file(),
    reason=f"real MELD CSVs not found in {MELD_DIR} (shared data folder absent)",
)


@needs_real
def test_real_meld_counts_labels_and_texts() -> None:
    cfg = MeldConfig(root=MELD_DIR, modalities=["text"])
    items = list(MELD.items(cfg))
    splits = Counter(it.split for it in items)
    assert splits["train"] == 9989 and splits["valid"] == 1109
    dialogues = {
        s: len({it.meta["dialogue_id"] for it in items if it.split == s}) for s in ("train", "valid")
    }
    assert dialogues == {"train": 1038, "valid": 114}
    train = Counter(EMOTIONS[it.label] for it in items if it.split == "train")
    assert train == {
        "neutral": 4710,
        "joy": 1743,
        "surprise": 1205,
        "anger": 1109,
        "sadness": 683,
        "disgust": 271,
        "fear": 268,
    }
    dev = Counter(EMOTIONS[it.label] for it in items if it.split == "valid")
    assert dev == {
        "neutral": 470,
        "joy": 163,
        "anger": 153,
        "surprise": 150,
        "sadness": 111,
        "fear": 40,
        "disgust": 22,
    }
    sent = Counter(
        SENTIMENTS[it.label]
        for it in MELD.items(cfg.model_copy(update={"labels": "sentiment"}))
        if it.split == "train"
    )
    assert sent == {"neutral": 4710, "negative": 2945, "positive": 2334}
    # every utterance text intact: identical to the csv module's own parse, row by row
    for name, split in (("train_sent_emo.csv", "train"), ("dev_sent_emo.csv", "valid")):
        with open(MELD_DIR / name, encoding="utf-8", newline="") as f:
            ref = {
                f"{split}_dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}": r["Utterance"]
                for r in csv.DictReader(f)
            }
        got = {it.id: it.inputs["text"] for it in items if it.split == split}
        assert got == ref
    assert len({it.id for it in items}) == len(items)  # ids unique although utterance ids have gaps


TEST_ROWS = ['1,Hi.,Ross,joy,positive,5,2,1,1,"00:00:01,000","00:00:02,000"\n']


@pytest.mark.parametrize("layout", ["flat", "tar_folders", "meld_raw_parent"])
def test_released_layouts_and_test_split_folder(tmp_path: Path, layout: str) -> None:
    """The test split's clips live in `output_repeated_splits_test/`; the tarballs unpack one level
    down (`train/train_splits/`), and the parent of `MELD.Raw/` may be given as root."""
    given = tmp_path / "data"
    root = given / "MELD.Raw" if layout == "meld_raw_parent" else given
    make_meld(root, clips=False)
    (root / "test_sent_emo.csv").write_text(HEADER + "".join(TEST_ROWS), encoding="utf-8")
    sub = {"flat": "", "tar_folders": "{orig}/", "meld_raw_parent": ""}[layout]
    for orig, folder, clip in (("train", "train_splits", "dia0_utt0"), ("dev", "dev_splits_complete", "dia0_utt0"),
                               ("test", "output_repeated_splits_test", "dia5_utt2")):  # fmt: skip
        write_video(root / sub.format(orig=orig) / folder / f"{clip}.mp4")
    items = by_id(list(MELD.items(MeldConfig(root=given))))
    t = items["test_dia5_utt2"]
    assert t.split == "test" and t.label == EMOTIONS.index("joy")
    assert (
        t.inputs["face"] == root / sub.format(orig="test") / "output_repeated_splits_test" / "dia5_utt2.mp4"
    )
    assert t.inputs["face"].is_file() and "missing" not in t.meta
    assert items["valid_dia0_utt0"].inputs["speech"].parent.name == "dev_splits_complete"
    assert "missing" not in items["train_dia0_utt0"].meta
    rep = MELD.check(MeldConfig(root=given, probe_clips=True))
    assert rep.counts["test"] == {"joy": 1} and rep.coverage["test"] == {"face": 1, "speech": 1, "text": 1}
    assert not rep.problems, rep.problems  # every existing clip decodes (audio track and frames)


def test_probe_through_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sseft.cli.main import cli

    root = make_meld(tmp_path / "MELD")  # dia1_utt0.mp4 is not a video; dia0_utt3 has no clip
    cfg = tmp_path / "meld.yaml"
    cfg.write_text(f"dataset: meld\nroot: {root}\n")
    plain = CliRunner().invoke(cli, ["data", "check", str(cfg)])
    assert plain.exit_code == 0, plain.output  # text_only: a missing clip is fine, nothing decoded
    probed = CliRunner().invoke(cli, ["data", "check", str(cfg), "--probe"])
    assert probed.exit_code == 1 and "dia1_utt0.mp4: cannot decode" in probed.output
    strict = CliRunner().invoke(cli, ["data", "check", str(cfg), "--set", "missing_clip=error"])
    assert strict.exit_code == 1 and "dia0_utt3.mp4 not found (train_sent_emo.csv line 4)" in strict.output


def test_text_only_rows_are_stored_with_their_text(tmp_path: Path) -> None:
    """docs/recipes.md: rows whose clip is missing stay text-only: the engine stores the text and
    empty speech/face sequences (the item's meta says which are missing and why)."""
    import torch

    from sseft.core.extraction.engine import run_batch

    class Fake:
        dim = 4

        def fingerprint(self) -> dict:
            return {}

        def __call__(self, raws: list) -> list:
            return [torch.ones(2, 4) for _ in raws]

    root = make_meld(tmp_path / "MELD")
    items = by_id(list(MELD.items(MeldConfig(root=root))))  # missing_clip: text_only (default)
    gap = items["train_dia0_utt3"]
    assert "dia0_utt3.mp4 not found (train_sent_emo.csv line 4)" in gap.meta["missing_reason"]["face"]
    [res] = run_batch({"text": Fake(), "speech": Fake(), "face": Fake()}, [gap])
    assert isinstance(res, dict), res
    assert {m: tuple(t.shape) for m, t in res["features"].items()} == {
        "text": (2, 4),
        "speech": (0, 4),
        "face": (0, 4),
    }
    # speech/face only: nothing is left of the row, so it is a failure naming the clip, never silent
    [only_media] = run_batch({"speech": Fake(), "face": Fake()}, [gap])
    assert isinstance(only_media, tuple) and "dia0_utt3.mp4 not found" in only_media[1]


@pytest.mark.slow  # builds a tiny text encoder and runs a real extraction (~20 s on 2 cores)
def test_one_extraction_serves_both_label_sets(tmp_path: Path) -> None:
    """A MELD store holds emotion and sentiment; the label set is chosen when reading it."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "modalities"))
    import media_factory as mf

    from sseft.core.extraction import extract_items
    from sseft.core.features import FeatureStore

    root = make_meld(tmp_path / "MELD", clips=False)
    cfg = MeldConfig(root=root, modalities=["text"])  # default set: emotion
    items = list(MELD.items(cfg))
    text = {"model": str(mf.tiny_roberta(tmp_path / "rob")), "max_len": 32}
    s = extract_items(items, MELD.task(cfg), {"text": text}, tmp_path / "store", progress=False, threads=1)
    assert s.failed == 0, s.line()
    store = FeatureStore.open(tmp_path / "store")
    assert store.label_set("sentiment").label_names == SENTIMENTS
    assert store.label_set("emotion").label_names == EMOTIONS == store.task.label_names
    ids = store.ids("train")
    by_id_emo = dict(zip(ids, store.labels("train"), strict=True))
    by_id_sent = dict(zip(ids, store.labels("train", label_set="sentiment"), strict=True))
    assert by_id_emo["train_dia0_utt0"] == EMOTIONS.index("anger")
    assert by_id_sent["train_dia0_utt0"] == SENTIMENTS.index("negative")
    assert by_id_sent["train_dia0_utt1"] == SENTIMENTS.index("positive")
