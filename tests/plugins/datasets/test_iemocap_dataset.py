"""IEMOCAP plugin on a generated tree in the released session layout (real wav and avi files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_video, write_wav
from pydantic import ValidationError

from sseft.core.errors import DataError
from sseft.core.protocols import MediaSlice
from sseft.plugins.datasets.iemocap import FOUR, IEMOCAP, SIX, IemocapConfig, speaker_of

DIALOGS = {
    1: (
        "Ses01F_impro01",
        [("F000", "neu"), ("M000", "hap"), ("F001", "exc"), ("M001", "fru"), ("F002", "sad")],
    ),
    4: ("Ses04F_script01_1", [("F000", "ang"), ("M000", "neu")]),
    5: ("Ses05M_impro02", [("F000", "sad"), ("M000", "ang"), ("M001", "xxx")]),
}


def C(**kw) -> IemocapConfig:  # noqa: N802 - the fixture tree has sessions 1, 4 and 5 only
    return IemocapConfig(**{"train_sessions": [1, 4], **kw})


def make_iemocap(root: Path, avi: bool = True, bad_line: bool = False) -> Path:
    for sess, (dialog, utts) in DIALOGS.items():
        d = root / f"Session{sess}"
        emo = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        trn = []
        for k, (u, code) in enumerate(utts):
            utt, start, end = f"{dialog}_{u}", 1.0 + k, 1.8 + k
            emo += [
                f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 3.5000]",
                "C-E2:\tNeutral;\t()",
                "",
            ]
            trn.append(f"{utt} [{start:08.4f}-{end:08.4f}]: words of {u}, with a comma.")
            if not (sess == 1 and u == "F002"):  # one wav missing
                write_wav(d / "sentences" / "wav" / dialog / f"{utt}.wav", seconds=0.1)
        trn.append("M: [BREATHING] (not an utterance line)")
        if bad_line and sess == 1:
            emo.append("[oops]\tSes01F_impro01_F009\tneu")
        (d / "dialog" / "EmoEvaluation").mkdir(parents=True)
        (d / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(emo) + "\n", encoding="utf-8")
        (d / "dialog" / "transcriptions").mkdir(parents=True)
        (d / "dialog" / "transcriptions" / f"{dialog}.txt").write_text(
            "\n".join(trn) + "\n", encoding="utf-8"
        )
        if avi and sess != 4:  # session 4's dialog video is missing
            write_video(d / "dialog" / "avi" / "DivX" / f"{dialog}.avi", seconds=0.3, fmt="avi")
    return root


def test_binary4_protocol_splits_and_inputs(tmp_path: Path) -> None:
    root = make_iemocap(tmp_path / "IEMOCAP")
    cfg = C(root=root)
    assert IEMOCAP.task(cfg).type == "multilabel" and IEMOCAP.task(cfg).label_names == FOUR
    items = {it.id: it for it in IEMOCAP.items(cfg)}
    # exc, fru and xxx dropped by default
    assert "Ses01F_impro01_F001" not in items and "Ses01F_impro01_M001" not in items
    assert "Ses05M_impro02_M001" not in items
    assert items["Ses01F_impro01_M000"].label == [0, 1, 0, 0]
    assert items["Ses05M_impro02_M000"].label == [0, 0, 0, 1]
    a = items["Ses01F_impro01_F000"]
    assert a.split == "train" and a.inputs["text"] == "words of F000, with a comma."
    assert a.inputs["speech"] == root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    assert a.inputs["face"] == MediaSlice(root / "Session1/dialog/avi/DivX/Ses01F_impro01.avi", 1.0, 1.8)
    # the speaker Ses04F is the validation hold-out; session 5 is test
    assert (
        items["Ses04F_script01_1_F000"].split == "valid" and items["Ses04F_script01_1_M000"].split == "train"
    )
    assert {it.split for it in items.values() if it.meta["session"] == 5} == {"test"}
    # speaker-independent: no speaker of valid/test appears in train
    spk = {s: {speaker_of(i) for i, it in items.items() if it.split == s} for s in ("train", "valid", "test")}
    assert not (spk["train"] & spk["valid"]) and not (spk["train"] & spk["test"])
    # missing wav (Ses01F_impro01_F002) and missing session-4 avi: kept with what exists
    assert items["Ses01F_impro01_F002"].meta["missing"] == ["speech"]
    assert items["Ses04F_script01_1_M000"].meta["missing"] == ["face"]


def test_label_options(tmp_path: Path) -> None:
    root = make_iemocap(tmp_path / "IEMOCAP", avi=False)
    merged = {it.id: it for it in IEMOCAP.items(C(root=root, merge_exc_into_happy=True, modalities=["text"]))}
    assert merged["Ses01F_impro01_F001"].label == [0, 1, 0, 0]
    four = {it.id: it.label for it in IEMOCAP.items(C(root=root, labels="4class", modalities=["text"]))}
    assert four["Ses01F_impro01_F002"] == FOUR.index("sad") and "Ses01F_impro01_F001" not in four
    six_cfg = C(root=root, labels="6class", modalities=["text"])
    six = {it.id: it.label for it in IEMOCAP.items(six_cfg)}
    assert six["Ses01F_impro01_F001"] == SIX.index("excited") and six["Ses01F_impro01_M001"] == SIX.index(
        "frustrated"
    )
    assert IEMOCAP.task(six_cfg).type == "multiclass"
    # validation hold-out from the test session instead
    alt = {
        it.id: it.split for it in IEMOCAP.items(C(root=root, valid_speakers=["Ses05F"], modalities=["text"]))
    }
    assert alt["Ses05M_impro02_F000"] == "valid" and alt["Ses05M_impro02_M000"] == "test"
    assert alt["Ses04F_script01_1_F000"] == "train"


def test_config_errors_and_check(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="both train_sessions and test_sessions"):
        IemocapConfig(root=tmp_path, train_sessions=[1, 2, 5], test_sessions=[5])
    with pytest.raises(ValidationError, match="expected names like Ses04F"):
        IemocapConfig(root=tmp_path, valid_speakers=["Session4"])
    root = make_iemocap(tmp_path / "IEMOCAP", avi=False, bad_line=True)
    rep = IEMOCAP.check(C(root=root))
    assert any("Ses01F_impro01.txt: line" in p and "expected '[start - end]" in p for p in rep.problems)
    assert any("Ses01F_impro01_F002.wav not found" in m for m in rep.missing)
    # a missing wav names its path (and the EmoEvaluation line) in the item and in the error
    root = make_iemocap(tmp_path / "clean", avi=False)
    kept = {it.id: it for it in IEMOCAP.items(C(root=root, modalities=["text", "speech"]))}[
        "Ses01F_impro01_F002"
    ]
    wav = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F002.wav"
    assert kept.meta["missing"] == ["speech"]
    assert kept.meta["missing_reason"]["speech"].startswith(
        f"speech file {wav} not found (Ses01F_impro01.txt line"
    )
    with pytest.raises(DataError, match=rf"Ses01F_impro01_F002: speech file {re.escape(str(wav))} not found"):
        list(IEMOCAP.items(C(root=root, missing_media="error", modalities=["text", "speech"])))
    assert any("dropped by the label protocol: exc 1, fru 1, xxx 1" in n for n in rep.notes)
    assert rep.counts["test"] == {"sad": 1, "angry": 1}
    absent = IEMOCAP.check(IemocapConfig(root=root, modalities=["text"]))  # default sessions 1-4: 2, 3 absent
    assert any("Session2/dialog/EmoEvaluation: folder not found" in p for p in absent.problems)


def test_parent_of_the_release_folder_is_accepted(tmp_path: Path) -> None:
    make_iemocap(tmp_path / "IEMOCAP_full_release", avi=False)
    items = {it.id: it for it in IEMOCAP.items(C(root=tmp_path, modalities=["text", "speech"]))}
    assert "Ses01F_impro01_F000" in items
    assert items["Ses01F_impro01_F000"].inputs["speech"].is_relative_to(tmp_path / "IEMOCAP_full_release")
