"""IEMOCAP (Busso et al. 2008) in its released session layout.

    Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav
    Session1/dialog/transcriptions/Ses01F_impro01.txt      <utt> [start-end]: text
    Session1/dialog/EmoEvaluation/Ses01F_impro01.txt       [start - end]<TAB><utt><TAB><emo><TAB>[V, A, D]
    Session1/dialog/avi/DivX/Ses01F_impro01.avi            utterance = MediaSlice(avi, start, end)

Label protocols (`labels`):
- `binary4` (MulT / SSE-FT): multilabel over (neutral, happy, sad, angry), each a binary task;
  `exc` dropped unless `merge_exc_into_happy: true`; every other emotion dropped.
- `4class`: the same four as one single-label multiclass task.
- `6class`: happy, sad, neutral, angry, excited, frustrated (single label).
Splits are by speaker (`Ses01F` = session 1's female actor): sessions 1-4 train, session 5 test,
and `valid_speakers` (default Ses04F) moved from train/test into valid, so no speaker of valid or
test is ever seen in training: speaker-independent by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sseft.core.config import StrictModel
from sseft.core.errors import DataError
from sseft.core.features.conversation import Turn
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import Item, MediaSlice, TaskInfo

from .common import (
    DataReport,
    Event,
    MediaModality,
    MissingPolicy,
    all_media_modalities,
    items_from_events,
    report_from_events,
)

CODES = {
    "neu": "neutral", "hap": "happy", "sad": "sad", "ang": "angry", "exc": "excited",
    "fru": "frustrated", "fea": "fear", "sur": "surprise", "dis": "disgust", "oth": "other", "xxx": "none",
}  # fmt: skip
FOUR = ("neutral", "happy", "sad", "angry")
SIX = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
EMO_RE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]")
TRN_RE = re.compile(r"^(\S+)\s+\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s*:\s?(.*)$")
SPEAKER_RE = re.compile(r"^Ses0[1-5][FM]$")


class IemocapConfig(StrictModel):
    root: Path = Field(description="folder holding Session1 .. Session5")
    labels: Literal["binary4", "4class", "6class"] = "binary4"
    merge_exc_into_happy: bool = False
    train_sessions: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])
    test_sessions: list[int] = Field(default_factory=lambda: [5])
    valid_speakers: list[str] = Field(default_factory=lambda: ["Ses04F"])
    modalities: list[MediaModality] = Field(default_factory=all_media_modalities, min_length=1)
    missing_media: MissingPolicy = "partial"
    probe_media: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> IemocapConfig:
        both = set(self.train_sessions) & set(self.test_sessions)
        if both:
            raise ValueError(f"sessions {sorted(both)} are in both train_sessions and test_sessions")
        if any(s not in range(1, 6) for s in self.train_sessions + self.test_sessions):
            raise ValueError("sessions are numbered 1 to 5")
        bad = [s for s in self.valid_speakers if not SPEAKER_RE.match(s)]
        if bad:
            raise ValueError(f"valid_speakers {bad}: expected names like Ses04F (session, F or M)")
        if self.merge_exc_into_happy and self.labels == "6class":
            raise ValueError("merge_exc_into_happy applies to binary4/4class; 6class keeps excited")
        return self


def speaker_of(utt: str) -> str:
    """Ses01F_impro01_M012 -> Ses01M: the session and the gender letter of the utterance's speaker."""
    last = utt.rsplit("_", 1)[-1]
    return utt[:5] + last[:1]


class IemocapDataset:
    name = "iemocap"
    config_model = IemocapConfig

    def task(self, config: IemocapConfig) -> TaskInfo:
        if config.labels == "binary4":
            return TaskInfo("multilabel", FOUR)
        return TaskInfo("multiclass", FOUR if config.labels == "4class" else SIX)

    def items(self, config: IemocapConfig) -> Iterator[Item]:
        yield from items_from_events(self.scan(config), config.missing_media)

    def check(self, config: IemocapConfig) -> DataReport:
        rep = report_from_events(self.name, self.task(config), self.scan(config), config.missing_media)
        if config.probe_media:
            from ._media import probe_items

            rep.problems.extend(
                probe_items(self.items(config.model_copy(update={"missing_media": "partial"})), rep.notes)
            )
        return rep

    def _label(self, config: IemocapConfig, code: str) -> object | None:
        emo = CODES.get(code)
        if emo == "excited" and config.merge_exc_into_happy:
            emo = "happy"
        if config.labels == "6class":
            return SIX.index(emo) if emo in SIX else None
        if emo not in FOUR:
            return None
        if config.labels == "4class":
            return FOUR.index(emo)
        return [int(emo == n) for n in FOUR]

    def scan(self, config: IemocapConfig) -> Iterator[Event]:
        root = Path(config.root)
        if not root.is_dir():
            raise DataError(
                f"{root}: IEMOCAP root folder not found; pass the folder holding Session1 .. Session5"
            )
        release = root / "IEMOCAP_full_release"
        if not any(root.glob("Session[1-5]")) and release.is_dir():
            root = release  # the folder the release unpacks into was given by its parent
        sessions = {s: "train" for s in config.train_sessions} | {s: "test" for s in config.test_sessions}
        valid = set(config.valid_speakers)
        seen_speakers: set[str] = set()
        dropped: dict[str, int] = {}
        for sess in sorted(sessions):
            sdir = root / f"Session{sess}"
            emo_dir = sdir / "dialog" / "EmoEvaluation"
            if not emo_dir.is_dir():
                yield ("problem", f"{emo_dir}: folder not found; session {sess} is listed in the config")
                continue
            for emo_file in sorted(emo_dir.glob("*.txt")):
                dialog = emo_file.stem
                timed = yield from self._transcripts(sdir / "dialog" / "transcriptions" / f"{dialog}.txt")
                texts = {u: text for u, (_, text) in timed.items()}
                avi = sdir / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
                emo_lines = emo_file.read_text(encoding="utf-8", errors="replace").splitlines()
                turns = _turn_order(timed, emo_lines)
                for line_no, line in enumerate(emo_lines, 1):
                    if not line.startswith("["):
                        continue
                    m = EMO_RE.match(line)
                    if m is None:
                        yield (
                            "problem",
                            f"{emo_file}: line {line_no}: expected '[start - end]<TAB>utt<TAB>emo<TAB>[V, A, D]'",
                        )
                        continue
                    start, end, utt, code = float(m[1]), float(m[2]), m[3], m[4]
                    if code not in CODES:
                        yield (
                            "problem",
                            f"{emo_file}: line {line_no}: emotion {code!r} is not one of {', '.join(CODES)}",
                        )
                        continue
                    label = self._label(config, code)
                    if label is None:
                        dropped[code] = dropped.get(code, 0) + 1
                        continue
                    spk = speaker_of(utt)
                    seen_speakers.add(spk)
                    split = "valid" if spk in valid else sessions[sess]
                    wav = sdir / "sentences" / "wav" / dialog / f"{utt}.wav"
                    inputs: dict[str, object] = {}
                    absent: list[tuple[str, object]] = []
                    if "text" in config.modalities:
                        if utt in texts:
                            inputs["text"] = texts[utt]
                        else:
                            absent.append(("text", f"(no line in transcriptions/{dialog}.txt)"))
                    if "speech" in config.modalities:
                        inputs["speech"] = wav
                        if not wav.is_file():
                            absent.append(("speech", wav))
                    if "face" in config.modalities:
                        inputs["face"] = MediaSlice(avi, start, end)
                        if not avi.is_file():
                            absent.append(("face", avi))
                    vad = [float(x) for x in m[5].replace(",", " ").split() if _is_float(x)]
                    meta = {"where": f"{emo_file.name} line {line_no}", "session": sess, "dialog": dialog,
                            "speaker": spk, "emotion": CODES[code], "start": start, "end": end, "vad": vad,
                            **Turn(dialog, turns[utt], spk).meta()}  # fmt: skip
                    yield ("item", Item(utt, split, label, inputs, meta), absent)
        for spk in sorted(valid - seen_speakers):
            yield (
                "note",
                f"valid speaker {spk} has no utterances in the selected sessions: valid split is empty for it",
            )
        if dropped:
            yield (
                "note",
                "dropped by the label protocol: " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())),
            )

    @staticmethod
    def _transcripts(path: Path):  # type: ignore[no-untyped-def]
        """utt -> (start, text) from one transcription file (a generator so it can emit a note)."""
        out: dict[str, tuple[float, str]] = {}
        if not path.is_file():
            yield ("note", f"{path}: transcription file not found; its utterances have no text")
            return out
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = TRN_RE.match(line.strip())
            if m:
                out[m[1]] = (float(m[2]), m[4].strip())
        return out


def _turn_order(timed: dict[str, tuple[float, str]], emo_lines: list[str]) -> dict[str, int]:
    """utt -> its turn in the dialog: the rank of its start time in the transcription (every line,
    labelled or not), or in the EmoEvaluation file for an utterance the transcription lacks."""
    starts = {m[3]: float(m[1]) for line in emo_lines if (m := EMO_RE.match(line)) is not None}
    starts |= {u: start for u, (start, _) in timed.items()}
    return {u: k for k, u in enumerate(sorted(starts, key=lambda u: (starts[u], u)))}


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


IEMOCAP = IemocapDataset()


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register(IEMOCAP)
