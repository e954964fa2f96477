"""The API through FastAPI's test client against tiny trained models: the listing, predictions from
text (JSON) and from a clip (multipart) equal to the in-process Predictor's, the attention picture,
a long clip's timeline with a WebVTT transcript, health, and the OpenAPI schema."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from . import tiny_models as tm


def _predictor(app: Any, name: str) -> Any:
    return app.app.state.served[name].predictor  # the Guard wraps the FastAPI app


def test_models_lists_name_version_modalities_labels_and_metrics(client: Any) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200
    by_name = {m["name"]: m for m in r.json()["models"]}
    assert set(by_name) == {"tiny-text", "tiny-av"}
    av = by_name["tiny-av"]
    assert av["version"] == 1 and av["ref"] == "tiny-av@1" and av["label_names"] == ["neg", "pos"]
    assert [m["name"] for m in av["modalities"]] == ["text", "speech", "face"]
    assert {m["name"]: m["inputs"][0] for m in av["modalities"]} == {
        "text": "text",
        "speech": "audio",
        "face": "video",
    }
    assert "accuracy" in av["metrics"] and av["utterance_seconds"] and av["utterance_seconds"] > 1
    assert by_name["tiny-text"]["utterance_seconds"] is None  # no time-based modality
    assert client.get("/v1/models/tiny-text").json()["name"] == "tiny-text"


def test_text_prediction_is_the_in_process_predictors(app: Any, client: Any) -> None:
    text = "hello world this is a test"
    r = client.post("/v1/models/tiny-text/predict", json={"text": text})
    assert r.status_code == 200, r.text
    body = r.json()
    (ref,) = _predictor(app, "tiny-text").predict_items([{"text": text}], contributions=True)
    assert body["label"] == ref.label and body["model"] == "tiny-text@1"
    assert body["probabilities"] == ref.probabilities
    assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-5)
    assert body["contributions"] == ref.notes["contributions"] and set(body["contributions"]) == {"text"}
    assert r.headers["x-request-id"] == body["request_id"]


def test_clip_prediction_with_attention_picture(app: Any, client: Any, clip: dict[str, str]) -> None:
    with open(clip["video"], "rb") as f:
        r = client.post(
            "/v1/models/tiny-av/predict",
            files={"video": ("my clip.mp4", f, "video/mp4")},
            data={"text": clip["text"], "attention": "true"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    (ref,) = _predictor(app, "tiny-av").predict_items(
        [{"video": clip["video"], "text": clip["text"]}], contributions=True
    )
    assert body["label"] == ref.label
    assert all(math.isclose(body["probabilities"][k], v, abs_tol=1e-5) for k, v in ref.probabilities.items())
    assert body["inputs"] == {"text": "text", "speech": "video", "face": "video"}
    assert set(body["contributions"]) == {"text", "speech", "face"}
    png = base64.b64decode(body["attention_png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    assert body["duration"] and 0.4 < body["duration"] < 1.0 and body["timeline"] is None


def test_long_clip_answers_a_timeline_with_each_segments_words(client: Any, tmp_path: Path) -> None:
    clip = tm.write_long_clip(tmp_path / "long.mp4", 6.0)
    vtt = "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nhello world\n\n00:00:04.200 --> 00:00:05.000\n<v A>the tiny test</v>\n"
    with clip.open("rb") as f:
        r = client.post(
            "/v1/models/tiny-av/predict",
            files={"video": ("long.mp4", f, "video/mp4"), "transcript": ("t.vtt", vtt.encode(), "text/vtt")},
            data={"segments": "fixed", "segment_seconds": "2"},
        )
    assert r.status_code == 200, r.text
    tl = r.json()["timeline"]
    assert tl["mode"] == "fixed" and math.isclose(tl["duration"], 6.0, abs_tol=0.1)
    spans = [(s["start"], s["end"]) for s in tl["segments"]]
    assert spans[0][0] == 0.0 and math.isclose(spans[-1][1], tl["duration"], abs_tol=1e-6)
    assert all(math.isclose(a[1], b[0]) for a, b in zip(spans, spans[1:], strict=False))  # no gap, no overlap
    assert [s["text"] for s in tl["segments"]] == ["hello world", "", "the tiny test"]
    first, middle, last = tl["segments"]
    for s in (first, last):
        assert s["label"] in ("neg", "pos") and math.isclose(
            sum(s["probabilities"].values()), 1, abs_tol=1e-5
        )
    # no words in the middle and the model was not trained with modality dropout: that segment says so
    assert middle["label"] is None and "text" in middle["error"] and "/tmp" not in middle["error"]
    assert r.json()["label"] in ("neg", "pos")


def test_health_and_readiness(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True


def test_openapi_describes_every_field(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/models/{name}/predict"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"video", "audio", "text", "transcript", "attention", "segments", "segment_seconds"} <= set(form)
    assert "application/json" in post["requestBody"]["content"]
    assert {"404", "413", "422", "503"} <= set(post["responses"])
    schemas = spec["components"]["schemas"]
    undocumented = [
        f"{name}.{field}"
        for name in (
            "PredictionOut",
            "ModelOut",
            "ModalityOut",
            "SegmentOut",
            "TimelineOut",
            "ErrorOut",
            "ModelsOut",
        )
        for field, prop in schemas[name]["properties"].items()
        if not prop.get("description")
    ]
    assert not undocumented, undocumented
    assert all(p.get("description") for p in form.values())


def test_the_page_and_its_assets_are_local(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    everything = page.text + client.get("/static/app.js").text + client.get("/static/style.css").text
    assert "http://" not in everything and "https://" not in everything  # nothing from the internet


def test_contribution_is_the_drop_when_the_modality_is_missing(app: Any, clip: dict[str, str]) -> None:
    """contribution[m] = p(label | all) - p(label | m fed as a missing input)."""
    p = app.app.state.served["tiny-av"].model.predictor(allow_missing=True)
    full, no_text, no_video = p.predict_items(
        [
            {"video": clip["video"], "text": clip["text"]},
            {"video": clip["video"]},
            {"text": clip["text"], "audio": clip["audio"]},
        ],
        contributions=True,
    )
    label = full.label
    c = full.notes["contributions"]
    assert math.isclose(c["text"], full.probabilities[label] - no_text.probabilities[label], abs_tol=1e-5)
    assert set(no_text.notes["contributions"]) == {"speech", "face"}  # a missing modality gets none
    assert abs(c["face"]) > 0 or abs(c["speech"]) > 0
    assert no_video.missing == ["face"]
