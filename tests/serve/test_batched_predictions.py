"""Batching changes nothing but speed: the text encoder run on a padded batch of texts of different
lengths gives each text the features it gets alone, and the service's batch function (one encoder
call + one fusion/head pass for the whole batch) gives each request the prediction it gets alone."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from . import tiny_models as tm

TEXTS = ["so", "happy happy joy and more joy today", "not this again", "fine, I guess, whatever you say then"]


@pytest.fixture(scope="module")
def served(text_home: tm.Served, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sseft.serve.served import ServedModel
    from sseft.serve.settings import ServeSettings

    old = os.environ.get("SSEFT_HOME")
    os.environ["SSEFT_HOME"] = str(text_home.home)
    try:
        tmp = tmp_path_factory.mktemp("attn")
        return ServedModel.load(text_home.text, ServeSettings(models=[text_home.text]), tmp)
    finally:
        if old is None:
            os.environ.pop("SSEFT_HOME", None)
        else:
            os.environ["SSEFT_HOME"] = old


def test_the_text_encoder_gives_each_text_of_a_padded_batch_its_own_features(served: Any) -> None:
    ex = served.predictor.extractor("text")
    together = ex(TEXTS)
    lengths = {o.features.shape[0] for o in together}
    assert len(lengths) > 1  # the batch really was padded
    for text, batched in zip(TEXTS, together, strict=True):
        (alone,) = ex([text])
        assert batched.features.shape == alone.features.shape
        torch.testing.assert_close(batched.features, alone.features, atol=1e-5, rtol=1e-4)


def test_one_batch_of_requests_answers_each_as_it_would_be_answered_alone(served: Any) -> None:
    from sseft.serve.served import Job

    jobs = [Job(f"r{k}", {"text": t}) for k, t in enumerate(TEXTS)]
    together = served.run_jobs(jobs)
    for job, batched in zip(jobs, together, strict=True):
        (alone,) = served.run_jobs([job])
        assert batched.error is None and alone.error is None
        a, b = batched.prediction.record, alone.prediction.record
        assert a["label"] == b["label"]
        for k in b["probabilities"]:
            assert a["probabilities"][k] == pytest.approx(b["probabilities"][k], abs=1e-5)
        for m, v in alone.prediction.notes["contributions"].items():
            assert batched.prediction.notes["contributions"][m] == pytest.approx(v, abs=1e-5)
