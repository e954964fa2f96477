"""MMSA/MulT pickles: the label set in the file must be the declared one, and the opt-in
hint of the pickle refusal works under the command that printed it."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sseft.cli.main import cli
from sseft.core.errors import DataError
from sseft.plugins.datasets.cmu import MOSEI, CmuConfig


def mult_iemocap_pickle(path: Path) -> Path:
    """MulT's iemocap_data_noalign.pkl layout: labels (N, 4, 2) one-hot [absent, present]."""
    rng = np.random.default_rng(1)
    data = {}
    for split, n in (("train", 3), ("valid", 1), ("test", 1)):
        labels = np.zeros((n, 4, 2), dtype=np.float32)
        labels[:, :, 0] = 1
        labels[:, 0] = [0, 1]  # every item: neutral present
        data[split] = {
            "text": rng.normal(size=(n, 4, 6)).astype(np.float32),
            "audio": rng.normal(size=(n, 5, 3)).astype(np.float32),
            "vision": rng.normal(size=(n, 5, 2)).astype(np.float32),
            "labels": labels,
        }
    path.write_bytes(pickle.dumps(data))
    return path


def test_iemocap_pickle_read_as_mosei_emotions_is_refused_in_one_line(tmp_path: Path) -> None:
    pkl = mult_iemocap_pickle(tmp_path / "iemocap_data_noalign.pkl")
    cfg = CmuConfig(root=tmp_path, source="pickle", pickle=pkl.name, trust_pickle=True, labels="emotions")
    with pytest.raises(DataError) as e:
        list(MOSEI.items(cfg))
    msg = str(e.value)
    assert "\n" not in msg and str(pkl) in msg
    assert "(3, 4, 2)" in msg and "neutral, happy, sad, angry" in msg and "happy, sad, anger" in msg
    # The same file read as MOSEI sentiment is refused too (multilabel labels, regression declared).
    with pytest.raises(DataError, match="declares regression"):
        list(MOSEI.items(cfg.model_copy(update={"labels": "sentiment"})))


def test_convert_reads_the_label_set_from_the_file(tmp_path: Path) -> None:
    pkl = mult_iemocap_pickle(tmp_path / "iemocap_data_noalign.pkl")
    out = tmp_path / "store"
    res = CliRunner().invoke(cli, ["convert", "pickle", str(pkl), "--out", str(out), "--trust-pickle"])
    assert res.exit_code == 0, res.output
    from sseft.core.features import FeatureStore

    fs = FeatureStore.open(out)
    assert fs.task.label_names == ("neutral", "happy", "sad", "angry")
    assert fs.labels("train") == [[1, 0, 0, 0]] * 3  # neutral stays neutral


def _hint(output: str) -> str:
    """The `--set KEY=VALUE` the refusal suggests."""
    m = re.search(r"--set ([A-Za-z_.]+=true)", output)
    assert m, output
    return m.group(1)


@pytest.mark.parametrize("command", ["extract", "data"])
def test_pickle_refusal_hint_works_under_the_command_that_printed_it(tmp_path: Path, command: str) -> None:
    pkl = mult_iemocap_pickle(tmp_path / "iemocap_data_noalign.pkl")
    sets = ["--set", "source=pickle", "--set", f"pickle={pkl.name}", "--set", "labels=emotions"]
    if command == "extract":
        args = ["extract", "--dataset", "mosei", "--root", str(tmp_path), "--out", str(tmp_path / "s"), *sets]
    else:
        args = ["data", "info", "mosei", "--root", str(tmp_path), *sets]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "arbitrary code" in res.output, res.output
    again = CliRunner().invoke(cli, [*args, "--set", _hint(res.output)])
    # The opt-in is accepted: the file is now read (and refused for its label set).
    assert "arbitrary code" not in again.output and "declares multilabel" in again.output, again.output


def test_convert_refusal_names_its_own_flag(tmp_path: Path) -> None:
    pkl = mult_iemocap_pickle(tmp_path / "x.pkl")
    res = CliRunner().invoke(cli, ["convert", "pickle", str(pkl), "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "--trust-pickle" in res.output and "--set" not in res.output, res.output
