"""Manifest columns -> modalities: names, aliases, `columns:`, plugin-declared suffixes, errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import write_video, write_wav
from pydantic import BaseModel

from sseft.core import plugins as core_plugins
from sseft.core.errors import DataError
from sseft.core.plugins import PluginInfo, get_manager
from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig
from sseft.plugins.datasets.manifest_columns import file_suffixes


def write(tmp_path: Path, body: str, name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def items(path: Path, **kw: Any) -> dict[str, Any]:
    return {it.id: it for it in MANIFEST.items(ManifestConfig(root=path, **kw))}


def test_audio_and_video_aliases(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    write_video(tmp_path / "v.mp4")
    path = write(tmp_path, "id,split,label,text,audio,video\nu1,train,x,hi,a.wav,v.mp4\n")
    u1 = items(path)["u1"]
    assert u1.inputs == {"text": "hi", "speech": tmp_path / "a.wav", "face": tmp_path / "v.mp4"}
    # the usual predict-style manifest: text + video only -> speech from the video's audio track
    path = write(tmp_path, "id,split,label,text,video\nu1,train,x,hi,v.mp4\n")
    u1 = items(path)["u1"]
    assert u1.inputs == {"text": "hi", "speech": tmp_path / "v.mp4", "face": tmp_path / "v.mp4"}
    # `wav` is an alias of speech too; the speech column wins over the video's audio track
    path = write(tmp_path, "id,split,label,wav,video\nu1,train,x,a.wav,v.mp4\n")
    assert items(path)["u1"].inputs == {"speech": tmp_path / "a.wav", "face": tmp_path / "v.mp4"}
    # an empty video cell: both modalities it feeds are absent, with the column named
    path = write(tmp_path, "id,split,label,text,video\nu1,train,x,hi,v.mp4\nu2,train,x,yo,\n")
    u2 = items(path, missing_media="partial")["u2"]
    assert u2.inputs == {"text": "yo"} and sorted(u2.meta["missing"]) == ["face", "speech"]
    assert "empty cell in column video (m.csv line 3)" in u2.meta["missing_reason"]["speech"]


def test_explicit_columns_and_meta(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    path = write(tmp_path, "id,split,label,transcript,mic,speaker,notes\nu1,train,x,hi,a.wav,Ann,n1\n")
    with pytest.raises(DataError) as e:
        items(path)
    msg = str(e.value)
    # names the columns that feed nothing, every column, and the installed modalities
    assert "column(s) transcript, mic, notes feed no installed modality" in msg
    assert "columns: id, split, label, transcript, mic, speaker, notes" in msg
    assert "modalities: " in msg and "face" in msg and "speech" in msg and "text" in msg
    assert "columns: {COLUMN: MODALITY}" in msg
    got = items(path, columns={"transcript": "text", "mic": "speech", "notes": "meta"})["u1"]
    assert got.inputs == {"text": "hi", "speech": tmp_path / "a.wav"}
    assert got.meta["speaker"] == "Ann" and got.meta["notes"] == "n1"  # `speaker` is meta by name
    ignored = items(path, columns={"transcript": "text", "mic": "ignore"}, meta_columns=["notes"])["u1"]
    assert ignored.inputs == {"text": "hi"} and "mic" not in ignored.meta
    with pytest.raises(DataError, match=r"columns maps 'mic' to 'speach', which is no installed modality"):
        items(path, columns={"transcript": "text", "mic": "speach", "notes": "meta"})
    with pytest.raises(DataError, match=r"columns 'transcript' and 'notes' both feed modality 'text'"):
        items(path, columns={"transcript": "text", "mic": "speech", "notes": "text"})
    # explicit `modalities` read the mapped column
    only = items(path, modalities={"speech": "file"}, columns={"mic": "speech"})["u1"]
    assert only.inputs == {"speech": tmp_path / "a.wav"}


class _PhysioConfig(BaseModel):
    pass


class _Physio:
    """A third-party-like modality that reads .csv recordings (declares its suffixes)."""

    name = "physio"
    dim = 4
    provides_cls = False
    max_len = 16
    config_model = _PhysioConfig
    suffixes = (".csv",)

    def build_extractor(self, config: Any, device: str = "cpu") -> Any:
        raise NotImplementedError


class _Gsr:
    """A plugin written before `suffixes` existed: it must still load."""

    name = "gsr"
    dim = 2
    provides_cls = False
    max_len = 16
    config_model = _PhysioConfig

    def build_extractor(self, config: Any, device: str = "cpu") -> Any:
        raise NotImplementedError


class _Module:
    def __init__(self, *objs: Any) -> None:
        self.objs = objs

    def register_modalities(self, register: Any) -> None:
        for o in self.objs:
            register(o)


@pytest.fixture
def physio() -> Any:
    core_plugins.reset_manager()
    pm = get_manager().load()
    pm.add_plugin(_Module(_Physio(), _Gsr()), PluginInfo("physio", "sseft-physio", "0.1", "sseft_physio"))
    yield pm
    core_plugins.reset_manager()


def test_plugin_declared_suffixes(tmp_path: Path, physio: Any) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "u1.csv").write_text("t,v\n0,1\n")
    path = write(tmp_path, "id,split,label,text,physio,gsr\nu1,train,x,hi,rec/u1.csv,calm\n")
    u1 = items(path)["u1"]
    assert u1.inputs["physio"] == tmp_path / "rec" / "u1.csv"  # a file, not text
    assert u1.inputs["gsr"] == "calm"  # a plugin without `suffixes` still loads (default: none)
    assert ".csv" in file_suffixes({"physio": physio.get("modality", "physio")})
    assert ".wav" in file_suffixes(dict(physio.items("modality")))  # the union with the built-ins
    # forcing `file` on a value no installed plugin reads names the suffixes it expected
    bad = write(tmp_path, "id,split,label,physio\nu1,train,x,rec/u1.xyz\n")
    with pytest.raises(DataError, match=r"column physio: 'rec/u1.xyz' is not a media file.*\.csv"):
        items(bad, modalities={"physio": "file"})


def test_plugin_without_suffixes_is_not_file_typed(physio: Any) -> None:
    gsr = physio.get("modality", "gsr")
    assert not hasattr(gsr, "suffixes")
    assert file_suffixes({"gsr": gsr}) == (".npy", ".safetensors")


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    for body in ("", "\n  \n"):
        with pytest.raises(DataError, match=r"m.csv: the file is empty"):
            items(write(tmp_path, body))
    with pytest.raises(DataError, match=r"m.csv: only a header line \(id, split, label, text\), no rows"):
        items(write(tmp_path, "id,split,label,text\n"))
    with pytest.raises(DataError, match=r"m.jsonl: the file is empty"):
        items(write(tmp_path, "", name="m.jsonl"))


def test_label_typo_warns_with_class_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = "".join(f"u{i},train,{lab},t\n" for i, lab in enumerate(["happy"] * 4 + ["sad"] * 3 + ["hapy"]))
    path = write(tmp_path, "id,split,label,text\n" + rows)
    with caplog.at_level(logging.WARNING):
        got = items(path)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "label_names not set" in msg and "happy 4, sad 3, hapy 1" in msg
    assert "'hapy' looks like 'happy'" in msg and "set label_names" in msg
    assert len(got) == 8
    rep = MANIFEST.check(ManifestConfig(root=path))
    assert any("'hapy' looks like 'happy'" in n for n in rep.notes)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        items(path, label_names=["happy", "sad", "hapy"])
    assert not caplog.records  # label_names given: the user fixed the classes


def test_every_corpus_csv_says_when_it_is_empty(tmp_path: Path) -> None:
    from sseft.plugins.datasets.cmu import MOSI, CmuConfig
    from sseft.plugins.datasets.meld import MELD, MeldConfig

    (tmp_path / "label.csv").write_text("")
    with pytest.raises(DataError, match=r"label.csv: the file is empty \(0 bytes\)"):
        list(MOSI.items(CmuConfig(root=tmp_path, modalities=["text"])))
    (tmp_path / "train_sent_emo.csv").write_text("\n")
    rep = MELD.check(MeldConfig(root=tmp_path, modalities=["text"], splits=["train"]))
    assert any("train_sent_emo.csv: the file is empty" in p for p in rep.problems) and not rep.ok


def test_probe_leaves_a_plugin_s_own_files_to_it(tmp_path: Path, physio: Any) -> None:
    (tmp_path / "u1.csv").write_text("t,v\n0,1\n")
    (tmp_path / "u2.csv").write_text("")
    path = write(tmp_path, "id,split,label,physio\nu1,train,x,u1.csv\nu2,train,x,u2.csv\n")
    rep = MANIFEST.check(ManifestConfig(root=path, probe_media=True))
    # no PyAV verdict on a plugin's .csv recording; an empty file is still reported
    assert rep.problems == [f"u2: physio file {tmp_path / 'u2.csv'}: file is empty (0 bytes)"], rep.problems


def test_array_columns_are_precomputed_features(tmp_path: Path, physio: Any) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    from sseft.core.extraction import extract_items
    from sseft.core.extraction.generate import job_modalities
    from sseft.core.features import FeatureStore
    from sseft.core.protocols import Precomputed

    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(tmp_path / f"s{i}.npy", rng.standard_normal((4 + i, 6)).astype(np.float32))
        save_file(
            {"features": rng.standard_normal((2, 5)).astype(np.float32)}, str(tmp_path / f"f{i}.safetensors")
        )
        np.save(tmp_path / f"g{i}.npy", np.zeros((3, 2), np.float32))
    rows = "".join(
        f"u{i},{['train', 'valid', 'test'][i]},x,s{i}.npy,f{i}.safetensors,g{i}.npy\n" for i in range(3)
    )
    path = write(tmp_path, "id,split,label,speech,opensmile,gsr\n" + rows)
    got = items(path)
    u0 = got["u0"]
    # speech does not read arrays itself: its .npy are its features; `opensmile` needs no plugin
    assert isinstance(u0.inputs["speech"], Precomputed) and u0.inputs["speech"].features.shape == (4, 6)
    assert isinstance(u0.inputs["opensmile"], Precomputed) and u0.inputs["opensmile"].features.shape == (2, 5)
    assert u0.inputs["gsr"] == tmp_path / "g0.npy"  # a plugin without `suffixes` gets the path, as before
    its = [it for it in got.values()]
    for it in its:
        it.inputs.pop("gsr")
    cfg = ManifestConfig(root=path)
    s = extract_items(
        its, MANIFEST.task(cfg), job_modalities(its), tmp_path / "store", progress=False, threads=1
    )
    assert s.failed == 0, s.line()
    store = FeatureStore.open(tmp_path / "store")
    assert {m: i.dim for m, i in store.modalities.items()} == {"speech": 6, "opensmile": 5}
    row = store.get("u0")
    feats = row.get("features", row)
    np.testing.assert_allclose(np.asarray(feats["speech"]), np.load(tmp_path / "s0.npy"))
    # an object array is never unpickled: one line naming the column and file
    np.save(tmp_path / "bad.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = write(tmp_path, "id,split,label,speech\nu1,train,x,bad.npy\n", name="bad.csv")
    with pytest.raises(
        DataError, match=r"bad.csv: line 2: column speech: cannot read bad.npy without unpickling"
    ):
        items(bad)
