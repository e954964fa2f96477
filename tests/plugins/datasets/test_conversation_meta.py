"""Every dataset that has conversations puts (dialogue, turn, speaker) in item meta, under the
keys of core/features/conversation.py: MELD, IEMOCAP and the manifest's optional columns."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import MELD_DIR
from test_iemocap_dataset import C, make_iemocap
from test_meld_dataset import make_meld

from sseft.core.errors import DataError
from sseft.core.features.conversation import ContextTurn, Turn, context_index, turn_from_meta
from sseft.plugins.datasets.iemocap import IEMOCAP
from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig
from sseft.plugins.datasets.meld import MELD, MeldConfig


def turns_of(items) -> dict[str, Turn | None]:  # type: ignore[no-untyped-def]
    return {it.id: turn_from_meta(it.meta, it.id) for it in items}


# -- MELD --------------------------------------------------------------------------------------------
def test_meld_turns_follow_utterance_ids_with_their_gaps(tmp_path: Path) -> None:
    items = list(MELD.items(MeldConfig(root=make_meld(tmp_path / "MELD", clips=False), modalities=["text"])))
    turns = turns_of(items)
    assert turns["train_dia0_utt0"] == Turn("train_dia0", 0, "Ross")
    assert turns["train_dia0_utt3"] == Turn("train_dia0", 3, "Chandler")  # utterance 2 is not in the file
    assert turns["valid_dia0_utt0"] == Turn("valid_dia0", 0, "Rachel")  # dev's dialogue 0 is another one
    train = {i: t for i, t in turns.items() if i.startswith("train")}
    assert context_index(train, 8)["train_dia0_utt3"] == (
        ContextTurn("train_dia0_utt0", 2, False),
        ContextTurn("train_dia0_utt1", 1, False),
    )


needs_real = pytest.mark.skipif(
    not (MELD_DIR / "train_sent_emo.csv").is_file(), reason=f"real MELD CSVs not found in {MELD_DIR}"
)


@needs_real
def test_real_meld_every_item_has_a_turn_and_dialogues_are_well_formed() -> None:
    items = list(MELD.items(MeldConfig(root=MELD_DIR, modalities=["text"])))
    turns = turns_of(items)
    assert all(t is not None for t in turns.values())
    split = {it.id: it.split for it in items}
    per_dialogue: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, t in turns.items():
        assert t is not None and t.speaker
        per_dialogue[(split[i], t.dialogue)].append(t.turn)
    assert Counter(s for s, _ in per_dialogue) == {"train": 1038, "valid": 114}
    assert all(len(v) == len(set(v)) for v in per_dialogue.values())  # no repeated turn
    gaps = [d for d, v in per_dialogue.items() if sorted(v) != list(range(min(v), max(v) + 1))]
    assert gaps, "the release leaves utterance ids out of some dialogues"
    ctx = context_index(turns, 12, "past", split)  # raises on a repeated turn
    assert sum(len(c) for c in ctx.values()) > len(items)


# -- IEMOCAP ------------------------------------------------------------------------------------------
def test_iemocap_turns_come_from_transcription_times_and_speakers_from_turn_names(tmp_path: Path) -> None:
    root = make_iemocap(tmp_path / "IEMOCAP")
    trn = root / "Session1" / "dialog" / "transcriptions" / "Ses01F_impro01.txt"
    lines = trn.read_text(encoding="utf-8").splitlines()
    # The transcription says M000 spoke first (times swapped against the EmoEvaluation file), and
    # F002 has no transcription line: its EmoEvaluation time places it.
    lines[0], lines[1] = (
        lines[0].replace("[001.0000", "[002.0000"),
        lines[1].replace("[002.0000", "[001.0000"),
    )
    trn.write_text("\n".join(x for x in lines if "_F002 " not in x) + "\n", encoding="utf-8")
    turns = turns_of(IEMOCAP.items(C(root=root, modalities=["text"])))
    d = "Ses01F_impro01"
    # exc and fru (turns 2, 3) are dropped by binary4: the kept turns keep their numbers
    assert turns["Ses01F_impro01_M000"] == Turn(d, 0, "Ses01M")
    assert turns["Ses01F_impro01_F000"] == Turn(d, 1, "Ses01F")
    assert turns["Ses01F_impro01_F002"] == Turn(d, 4, "Ses01F")
    assert turns["Ses05M_impro02_M000"] == Turn("Ses05M_impro02", 1, "Ses05M")
    ctx = context_index({i: t for i, t in turns.items() if t and t.dialogue == d}, 8)
    assert ctx["Ses01F_impro01_F002"] == (
        ContextTurn("Ses01F_impro01_M000", 2, False),
        ContextTurn("Ses01F_impro01_F000", 1, True),
    )


# -- manifest -----------------------------------------------------------------------------------------
def manifest(tmp_path: Path, body: str, name: str = "m.csv") -> ManifestConfig:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return ManifestConfig(root=p, label_names=["x", "y"])


def test_manifest_conversation_columns_are_typed_meta(tmp_path: Path) -> None:
    cfg = manifest(
        tmp_path,
        "id,split,label,text,dialogue,turn,speaker\n"
        "u1,train,x,hi,d1,0,Ann\nu2,train,y,oh,d1,5,\nu3,train,x,yo,,,Bob\nu4,test,x,hm,d1,2,Cy\n",
    )
    got = {it.id: it for it in MANIFEST.items(cfg)}
    assert turns_of(got.values()) == {
        "u1": Turn("d1", 0, "Ann"),
        "u2": Turn("d1", 5, None),  # no speaker
        "u3": None,  # no dialogue: a lone utterance
        "u4": Turn("d1", 2, "Cy"),  # another split: its own number space
    }
    assert got["u1"].meta["turn"] == 0 and got["u3"].meta["speaker"] == "Bob"


def test_manifest_jsonl_and_dialogues_without_a_turn_column(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "split": "train", "label": "x", "text": "1", "dialogue": 7, "turn": 3.0},
        {"id": "b", "split": "train", "label": "x", "text": "2", "dialogue": 7, "turn": 1},
    ]
    cfg = manifest(tmp_path, "".join(json.dumps(r) + "\n" for r in rows), "m.jsonl")
    assert turns_of(MANIFEST.items(cfg)) == {"a": Turn("7", 3), "b": Turn("7", 1)}
    cfg = manifest(tmp_path, "id,split,label,text,dialogue\nq,train,x,1,d\nr,train,x,2,e\ns,train,x,3,d\n")
    assert turns_of(MANIFEST.items(cfg)) == {"q": Turn("d", 0), "r": Turn("e", 0), "s": Turn("d", 1)}
    assert any("numbered in file order" in n for n in MANIFEST.check(cfg).notes)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "id,split,label,text,dialogue,turn\nu1,train,x,a,d1,1\nu2,train,x,b,d2,1\nu3,train,x,c,d1,1\n",
            "m.csv: lines 2, 4: dialogue 'd1' has turn 1 more than once",
        ),
        (
            "id,split,label,text,dialogue,turn\nu1,train,x,a,d1,0\nu2,train,x,b,d1,two\n",
            "m.csv: line 3: column turn: 'two' is not an integer",
        ),
        (
            "id,split,label,text,dialogue,turn\nu1,train,x,a,d1,0\nu2,train,x,b,d1,1.5\n",
            "m.csv: line 3: column turn: '1.5' is not an integer",
        ),
        (
            "id,split,label,text,dialogue,turn\nu1,train,x,a,,3\n",
            "m.csv: line 2: column turn: '3' but column dialogue is empty",
        ),
        ("id,split,label,text,turn\nu1,train,x,a,3\n", "m.csv: column 'turn' without a 'dialogue' column"),
    ],
)
def test_manifest_conversation_errors_name_the_lines(tmp_path: Path, body: str, expected: str) -> None:
    cfg = manifest(tmp_path, body)
    with pytest.raises(DataError, match=expected.replace(".", r"\.")):
        list(MANIFEST.items(cfg))
    rep = MANIFEST.check(cfg)
    assert not rep.ok and any(expected in p for p in rep.problems), rep.problems


def test_manifest_conversation_columns_mapped_away_are_not_checked(tmp_path: Path) -> None:
    cfg = manifest(tmp_path, "id,split,label,text,dialogue,turn\nu1,train,x,a,d1,1\nu2,train,x,b,d1,1\n")
    cfg = cfg.model_copy(update={"columns": {"turn": "ignore"}})
    # `turn` ignored: the dialogue's rows are numbered in file order, so no clash
    assert turns_of(MANIFEST.items(cfg)) == {"u1": Turn("d1", 0), "u2": Turn("d1", 1)}
