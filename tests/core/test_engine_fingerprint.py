"""The engine writes every fingerprint itself: the modality plugin's name and the extractor config
are always recorded (so a trained model rebuilds exactly this extractor, nothing guessed), and
extractor notes come back with the outputs (no side channel)."""

from __future__ import annotations

import torch
from pydantic import BaseModel

from sseft.core.extraction.engine import modality_info, run_batch
from sseft.core.extraction.run import run_with_retry
from sseft.core.protocols import Extracted, Item


class Cfg(BaseModel):
    channels: int = 4


class Plugin:
    name = "eeg-like"
    provides_cls = False
    max_len = 10


class Ex:
    """An extractor whose own fingerprint records neither `modality` nor `config` (like the EEG example plugin's)."""

    dim = 3
    calls = 0

    def fingerprint(self) -> dict:
        return {"model": "patch-embed", "settings": {"sample_rate": 100}}

    def __call__(self, raw):  # type: ignore[no-untyped-def]
        Ex.calls += 1
        if "bad" in raw and len(raw) > 1:
            raise RuntimeError("the batch broke")
        if raw == ["bad"]:
            raise ValueError("item is bad")
        return [Extracted(torch.zeros(2, 3), {"note": r}) if r == "noted" else torch.ones(1, 3) for r in raw]


def test_fingerprint_always_has_modality_and_config() -> None:
    info = modality_info(Plugin(), Ex(), Cfg(channels=8))
    assert info.fingerprint["modality"] == "eeg-like" and info.fingerprint["config"] == {"channels": 8}
    assert info.fingerprint["model"] == "patch-embed" and info.dim == 3


def test_notes_come_with_outputs_and_one_bad_item_fails_alone() -> None:
    items = [Item(str(i), "train", 0, {"eeg-like": r}) for i, r in enumerate(["ok", "noted", "bad"])]
    res = run_batch({"eeg-like": Ex()}, items)
    assert res[0]["meta"] == {} and res[1]["meta"] == {"eeg-like": {"note": "noted"}}
    assert res[2] == ("eeg-like", "item is bad")


def test_run_with_retry_isolates_the_culprit() -> None:
    def square(xs: list[int]) -> list[int]:
        if 3 in xs:
            raise ValueError(f"bad {xs}")
        return [x * x for x in xs]

    out = run_with_retry(square, [1, 2, 3, 4])
    assert out[:2] == [1, 4] and isinstance(out[2], ValueError) and out[3] == 16


def test_notes_come_only_from_extracted_never_from_a_side_channel() -> None:
    from sseft.core.extraction.run import run_extractor

    class Legacy(Ex):
        last_meta = [{"note": "side channel"}]  # the removed `last_meta` bridge read this

    (out,) = run_extractor(Legacy(), ["ok"])
    assert isinstance(out, Extracted) and out.notes == {} and torch.equal(out.features, torch.ones(1, 3))
