"""A hub id with no network fails at once with the offline hint, instead of transformers'
half a minute of retries per file; a model in the local cache is still used; a hub that answers
(even 404) is left to transformers."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import pytest

from sseft.core.errors import ExtractionError
from sseft.plugins.modalities import _hf


class Factory:
    """Stands in for AutoModel/AutoTokenizer: records how it was called."""

    calls: list[dict[str, Any]] = []
    cached = False

    @classmethod
    def from_pretrained(cls, name: str, **kw: Any) -> Any:
        cls.calls.append(kw)
        if kw.get("local_files_only") and not cls.cached:
            raise OSError("not in the cache")
        return f"model {name}"


def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import (the test session sets it): undo that."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def dead_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    online(monkeypatch)
    monkeypatch.setattr(_hf, "_HUB_DOWN", [])
    monkeypatch.setattr(Factory, "calls", [])


def test_unreachable_hub_fails_at_once_with_the_offline_hint(dead_hub) -> None:
    with pytest.raises(ExtractionError) as e:
        _hf.load_pretrained(Factory, "someone/some-model", None, "text model")
    msg = str(e.value)
    assert "cannot load text model 'someone/some-model'" in msg and "is unreachable" in msg
    assert "not in the local Hugging Face cache" in msg
    assert "save_pretrained" in msg and "minilm-offline" in msg and "HF_HUB_OFFLINE=1" in msg
    assert Factory.calls == [{"revision": None, "local_files_only": True}]  # never the retrying call
    with pytest.raises(ExtractionError, match="is unreachable"):  # a second model: no second probe
        _hf.load_pretrained(Factory, "someone/other", None, "speech model")


def test_unreachable_hub_still_uses_the_local_cache(dead_hub, monkeypatch) -> None:
    monkeypatch.setattr(Factory, "cached", True)
    assert (
        _hf.load_pretrained(Factory, "someone/some-model", "abc", "text model") == "model someone/some-model"
    )
    assert Factory.calls == [{"revision": "abc", "local_files_only": True}]


def test_a_hub_that_answers_is_left_to_transformers(monkeypatch) -> None:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(v, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        online(monkeypatch)
        monkeypatch.setattr(_hf, "_HUB_DOWN", [])
        monkeypatch.setattr(Factory, "calls", [])
        assert _hf.hub_unreachable("someone/some-model", None) is None
        assert (
            _hf.load_pretrained(Factory, "someone/some-model", None, "text model")
            == "model someone/some-model"
        )
        assert Factory.calls == [{"revision": None}]
    finally:
        server.shutdown()


def test_the_text_plugin_fails_fast_offline_too(dead_hub) -> None:
    from sseft.core.plugins import get_modality

    with pytest.raises(ExtractionError, match=r"unreachable.*HF_HUB_OFFLINE=1"):
        get_modality("text").build_extractor({"model": "someone/not-cached"})


@pytest.mark.parametrize(
    ("hub", "transformers", "flag", "offline"),
    [
        ("1", None, False, True),
        ("0", "1", True, False),  # HF_HUB_OFFLINE, when set, decides (huggingface_hub's rule)
        (None, "false", True, False),  # a false value is not offline, whatever the flag said at import
        (None, "YES", False, True),
        (None, None, True, True),  # nothing set now: the library's flag
        (None, None, False, False),
    ],
)
def test_offline_mode_is_read_now_by_huggingface_hubs_rule(
    monkeypatch, hub, transformers, flag, offline
) -> None:
    from huggingface_hub import constants

    from sseft.core.environment import hf_offline

    for name, value in (("HF_HUB_OFFLINE", hub), ("TRANSFORMERS_OFFLINE", transformers)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", flag)
    assert hf_offline() is offline
