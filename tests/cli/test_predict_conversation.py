"""`sseft predict --conversation FILE`: one row per turn (table, --out CSV, --json), each from the
turns before it; a model without context, a bad line and mixed inputs refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sseft.cli.main import cli
from tests.inference import conversation_fixture as cf


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["predict", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


@pytest.fixture
def turns(tmp_path: Path) -> Path:
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in cf.CONVERSATION))
    return path


def test_table_csv_and_json_one_row_per_turn(tmp_path: Path, turns: Path) -> None:
    model = str(cf.artifact())
    code, out = run("--model", model, "--conversation", str(turns), "--out", str(tmp_path / "o.csv"))
    assert code == 0, out
    lines = out.splitlines()
    assert "context: 3 preceding turns" in lines[0]
    assert lines[1].split() == ["turn", "speaker", "text", "prediction", "prob_neg", "prob_pos", "context"]
    assert lines[2].split()[:3] == ["0", "ann", "hello"] and lines[-1] == f"wrote {tmp_path / 'o.csv'}"
    with open(tmp_path / "o.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["turn"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r["context"] for r in rows] == ["", "0", "0;1", "0;1;2", "1;2;3"]
    assert [r["text"] for r in rows] == [t["text"] for t in cf.CONVERSATION]
    assert all(r["prediction"] in ("neg", "pos") for r in rows)
    code, out = run("--model", model, "--conversation", str(turns), "--json")
    assert code == 0, out
    body = json.loads(out)
    assert [t["turn"] for t in body["turns"]] == [0, 1, 2, 3, 4]
    assert [c["turn"] for c in body["turns"][2]["context"]] == [0, 1]
    assert [t["label"] for t in body["turns"]] == [r["prediction"] for r in rows]


def test_a_csv_conversation_gives_the_same_answers(tmp_path: Path, turns: Path) -> None:
    path = tmp_path / "turns.csv"
    path.write_text("speaker,text\n" + "".join(f"{t['speaker']},{t['text']}\n" for t in cf.CONVERSATION))
    model = str(cf.artifact())
    a = json.loads(run("--model", model, "--conversation", str(path), "--json")[1])
    b = json.loads(run("--model", model, "--conversation", str(turns), "--json")[1])
    flat = [[v for t in x["turns"] for v in t["probabilities"].values()] for x in (a, b)]
    assert flat[0] == pytest.approx(flat[1], abs=1e-6)


def test_a_model_without_context_refuses_in_one_line(turns: Path) -> None:
    code, out = run("--model", str(cf.artifact(None, "plain")), "--conversation", str(turns))
    assert code == 2
    assert out.strip().count("\n") == 0 and "was trained without dialogue context" in out


def test_bad_input_is_one_line_before_any_model_is_loaded(tmp_path: Path, turns: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("speaker,text,mood\nann,hi,x\n")
    code, out = run("--model", "no-such-model", "--conversation", str(bad))
    assert code == 2 and "bad.csv: line 1: unknown column 'mood'" in out and out.strip().count("\n") == 0
    code, out = run("--model", "no-such-model", "--conversation", str(turns), "--text", "hi")
    assert code == 2 and "--conversation reads the turns from its file" in out
