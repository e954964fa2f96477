"""docs/deploy.md, followed as written: every `run` block (bash and Python) in order, in a folder with
clip.mp4 and the tiny stand-in for `meld-emotion` (tests/cli/predict_fixture.py), with a
huggingface_hub cache holding it as `my-org/meld-emotion` and HF_HUB_OFFLINE=1 (the Hub is unreachable
here; the page says which path that leaves untested). tests/test_docs.py checks the page's static
blocks and leaves the running to this test."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from exportkit import hf_cache

from tests.test_docs import REPO, commands, parse, run_shell

DOC = REPO / "docs" / "deploy.md"


@pytest.mark.slow
def test_deploy_doc_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "tests" / "cli"))
    import predict_fixture as pf

    monkeypatch.chdir(tmp_path)
    tiny = pf.tiny_model()
    pf.publish("meld-emotion")
    pf.write_clip(tmp_path / "clip.mp4", 3)
    hf_cache(tmp_path / "hf-home", "my-org/meld-emotion", tiny.artifact)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    blocks = parse(DOC)
    ran = 0
    ns: dict[str, object] = {"__name__": "__docs__"}
    for b in blocks:
        if b.lang == "python":
            exec(compile(b.code, b.where, "exec"), ns)  # noqa: S102 - our own documentation
            ran += 1
        elif b.lang == "bash" and b.mode == "run":
            for tokens in commands(b.code):
                code, out = run_shell(tokens, tmp_path)
                assert code == 0, f"{b.where}: `{shlex.join(tokens)}` exited {code}:\n{out}"
                ran += 1
    assert ran >= 10
    assert sorted(p.name for p in (tmp_path / "meld-emotion-onnx").iterdir()) == [
        "model.onnx",
        "sseft-onnx.json",
    ]
