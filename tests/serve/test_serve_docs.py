"""docs/serve.md's curl examples, run as written against a live service (uvicorn on 127.0.0.1)
serving stand-ins for the models they name: the tiny text + speech + face model as
`my-first-model`, the tiny text model as `my-text-model`. tests/test_docs.py checks the page's
sseft commands and runs its Python block."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from . import tiny_models as tm

DOC = Path(__file__).resolve().parents[2] / "docs" / "serve.md"
MARK = re.compile(r"<!--\s*serve:\s*expect\s+(\w+)\s*-->\s*\n```bash\n(.*?)\n```", re.S)


def examples() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in MARK.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_curl_example_is_marked() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    curl = [b for b in blocks if "curl " in b]
    assert len(curl) == len(examples()) >= 6


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_examples_work(tmp_path: Path, upload_dir: Path, clip: dict[str, str]) -> None:
    import sseft

    home = tmp_path / "home"
    old = os.environ.get("SSEFT_HOME")
    os.environ["SSEFT_HOME"] = str(home)
    try:
        sseft.publish(tm.text_artifact(), "my-text-model")
        sseft.publish(tm.pf.tiny_model().artifact, "my-first-model")
    finally:
        os.environ["SSEFT_HOME"] = old or ""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(clip["video"], work / "clip.mp4")
    shutil.copy(clip["audio"], work / "clip.wav")
    tm.write_long_clip(work / "talk.mp4", 4.0)
    (work / "talk.srt").write_text(
        "1\n00:00:00,200 --> 00:00:01,500\nwhat a wonderful day\n\n2\n00:00:02,200 --> 00:00:03,500\noh no\n"
    )
    app = tm.load_app(home, ["my-first-model", "my-text-model"], tmp_dir=str(upload_dir))
    env = {k: v for k, v in os.environ.items() if k != "SSEFT_SERVE_TOKEN"}
    with tm.running(app) as url:
        for expect, code in examples():
            if expect == "conversation":  # needs a context model: tests/serve/test_conversation.py
                continue
            cmd = code.replace("http://127.0.0.1:8000", url)
            run = subprocess.run(
                ["bash", "-c", cmd.replace("curl ", "curl -sS ")],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 0, (code, run.stderr)
            body = json.loads(run.stdout)
            assert "error" not in body, (code, body)
            if expect == "models":
                assert {m["name"] for m in body["models"]} == {"my-first-model", "my-text-model"}
            elif expect == "prediction":
                assert body["label"] in body["label_names"] and body["timeline"] is None
                assert ("attention=true" in code) == (body["attention_png"] is not None)
            else:
                assert expect == "timeline", expect
                assert [s["text"] for s in body["timeline"]["segments"]] == ["what a wonderful day", "oh no"]
