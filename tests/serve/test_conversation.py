"""POST /v1/models/{name}/conversation: one prediction per turn from the turns before it, the same as
core's `predict_conversation`; a model without context answers 422 in one line; docs/serve.md's
conversation curl example runs as written against a live service."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.inference import conversation_fixture as cf

from . import tiny_models as tm

DOC = Path(__file__).resolve().parents[2] / "docs" / "serve.md"
MARK = re.compile(r"<!--\s*serve:\s*expect\s+conversation\s*-->\s*\n```bash\n(.*?)\n```", re.S)
BODY = {"turns": [{"speaker": t["speaker"], "text": t["text"]} for t in cf.CONVERSATION]}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import sseft

    home = tmp_path_factory.mktemp("conversation_home")
    old = os.environ.get("SSEFT_HOME")
    os.environ["SSEFT_HOME"] = str(home)
    try:
        sseft.publish(cf.artifact(), "my-context-model")
        sseft.publish(cf.artifact(None, "plain"), "my-text-model")
    finally:
        os.environ["SSEFT_HOME"] = old or ""
    return home


@pytest.fixture(scope="module")
def app(home: Path, upload_dir: Path) -> Any:
    return tm.load_app(home, ["my-context-model", "my-text-model"], tmp_dir=str(upload_dir))


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def test_one_prediction_per_turn_as_core_makes_them(client: Any) -> None:
    import sseft
    from sseft.core.inference.conversation import predict_conversation

    r = client.post("/v1/models/my-context-model/conversation", json=BODY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "my-context-model@1" and "3 preceding turns" in body["context"]
    assert [t["turn"] for t in body["turns"]] == [0, 1, 2, 3, 4]
    assert [[c["turn"] for c in t["context"]] for t in body["turns"]] == [
        [],
        [0],
        [0, 1],
        [0, 1, 2],
        [1, 2, 3],
    ]
    assert body["turns"][1]["context"][0]["speaker"] == "ann"
    want = predict_conversation(sseft.load(str(cf.artifact())), cf.CONVERSATION)
    for t, p in zip(body["turns"], want, strict=True):
        assert t["label"] == p.label and t["text"] == cf.CONVERSATION[t["turn"]]["text"]
        assert list(t["probabilities"].values()) == pytest.approx(list(p.probabilities.values()), abs=1e-5)
    # live: the first two turns alone answer as they did inside the longer conversation
    r2 = client.post("/v1/models/my-context-model/conversation", json={"turns": BODY["turns"][:2]})
    assert [t["probabilities"] for t in r2.json()["turns"]] == [t["probabilities"] for t in body["turns"][:2]]


def test_models_listing_says_which_model_has_context(client: Any) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["my-context-model"]["context"].startswith("context: 3 preceding turns")
    assert models["my-text-model"]["context"] is None


def test_refusals_are_one_line(client: Any) -> None:
    r = client.post("/v1/models/my-text-model/conversation", json=BODY)
    assert r.status_code == 422 and "was trained without dialogue context" in r.json()["error"]
    assert "\n" not in r.json()["error"]
    r = client.post("/v1/models/my-context-model/conversation", json={"turns": [{"speaker": "a"}]})
    assert r.status_code == 422 and r.json()["error"].startswith("body.turns.0.text:")
    r = client.post("/v1/models/my-context-model/conversation", json={"turns": []})
    assert r.status_code == 422 and r.json()["error"].startswith("body.turns:")
    r = client.post("/v1/models/my-contxt-model/conversation", json=BODY)
    assert r.status_code == 404 and "my-context-model" in r.json()["error"]


def test_openapi_documents_the_route(client: Any) -> None:
    op = client.get("/openapi.json").json()["paths"]["/v1/models/{name}/conversation"]["post"]
    assert "text turns" in op["description"] and "422" in op["responses"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_example_works(app: Any, tmp_path: Path) -> None:
    blocks = MARK.findall(DOC.read_text(encoding="utf-8"))
    assert blocks, "docs/serve.md has no `serve: expect conversation` example"
    env = {k: v for k, v in os.environ.items() if k != "SSEFT_SERVE_TOKEN"}
    with tm.running(app) as url:
        for code in blocks:
            cmd = code.replace("http://127.0.0.1:8000", url).replace("curl ", "curl -sS ")
            run = subprocess.run(
                ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
            )
            assert run.returncode == 0, (code, run.stderr)
            body = json.loads(run.stdout)
            assert "error" not in body, (code, body)
            assert len(body["turns"]) >= 2 and body["turns"][1]["context"][0]["turn"] == 0
