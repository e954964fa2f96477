"""Fast checks of the cluster seams: the lost-peer line, the process-group timeout, storage URL
errors with the password masked, a stale trial retried once, a failing tracker as one warning."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from clusterhelpers import free_port
from hypothesis import given
from hypothesis import strategies as st

from sseft.core.errors import ConfigError
from sseft.core.evaluation.sweep_storage import redact, storage_url_error
from sseft.core.extraction.distributed import peer_lost, process_group_timeout

GLOO = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error "
        "[127.0.0.1]:53996: Connection reset by peer. This is typically caused by a remote worker hanging")  # fmt: skip


def test_a_lost_peer_is_one_line_only_in_a_multi_process_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    err = peer_lost(RuntimeError(GLOO))
    assert err is not None and len(str(err).splitlines()) == 1
    assert str(err).startswith("process 1 of 2: another process of this job stopped")
    assert "Connection reset by peer)" in str(err) and "--resume" in str(err) and "pair.cc" not in str(err)
    assert (
        peer_lost(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    )  # a real bug stays loud
    assert peer_lost(ValueError(GLOO)) is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert peer_lost(RuntimeError(GLOO)) is None


def test_process_group_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSEFT_DIST_TIMEOUT", raising=False)
    assert process_group_timeout().total_seconds() == 600
    monkeypatch.setenv("SSEFT_DIST_TIMEOUT", "45")
    assert process_group_timeout().total_seconds() == 45
    for bad in ("0", "-3", "soon"):
        monkeypatch.setenv("SSEFT_DIST_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="SSEFT_DIST_TIMEOUT"):
            process_group_timeout()


@given(st.text(alphabet=st.characters(blacklist_characters="@\n", blacklist_categories=("Cs",)), min_size=4))
def test_redact_never_shows_the_password(password: str) -> None:
    for url in (f"postgresql://sweep:{password}@db.example.org:5432/sseft", f"sweep:{password}@db:5432"):
        shown = redact(url)
        assert password not in shown.split("@", 1)[0] and "***@" in shown


def test_storage_errors_name_the_url_without_its_password() -> None:
    import sqlalchemy

    from sseft.core.evaluation.sweep_storage import open_storage

    with pytest.raises(ConfigError) as typo:
        open_storage("postgress://u:pw-123@127.0.0.1:5432/db", None)
    assert "unknown database kind 'postgress'" in str(typo.value) and "pw-123" not in str(typo.value)
    with pytest.raises(ConfigError) as garbage:
        open_storage("u:pw-123@127.0.0.1", None)
    assert "not a database URL" in str(garbage.value) and "pw-123" not in str(garbage.value)
    pytest.importorskip("psycopg2")
    url = f"postgresql://u:pw-123@127.0.0.1:{free_port()}/db"
    with pytest.raises(ConfigError) as absent:
        open_storage(url, None)
    assert "no database server answers" in str(absent.value) and "u:***@" in str(absent.value)
    refused = sqlalchemy.exc.OperationalError(
        "connect", {}, Exception('password authentication failed for user "u"')
    )
    assert "refused the login" in str(storage_url_error(url, refused))


@pytest.mark.slow
def test_a_trial_whose_worker_died_is_failed_and_retried_once(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from sseft.core.evaluation.sweep import WAIT, _claim
    from sseft.core.evaluation.sweep_storage import Heartbeat, open_storage, retried_number

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=1)
    study = optuna.create_study(storage=storage, study_name="s")
    dead = _claim(study, 1, 1, True)
    dead.suggest_float("x", 0.0, 1.0)
    with Heartbeat(storage, dead._trial_id, 1):  # beats, then the worker "dies" (no tell, no more beats)
        time.sleep(1.2)
        assert _claim(study, 1, 1, True) == WAIT  # budget reached, but a trial runs: wait, do not leave
    time.sleep(4 * 1 + 1.5)  # past the grace period
    retry = _claim(study, 1, 1, True)
    assert retry not in (None, WAIT) and retried_number(retry) == dead.number
    assert study.get_trials()[dead.number].state.name == "FAIL"
    assert retry.suggest_float("x", 0.0, 1.0) == study.get_trials()[dead.number].params["x"]
    study.tell(retry, 0.5)
    assert _claim(study, 1, 1, True) is None  # planned trial done (retried once): nothing more to run


def test_a_failing_tracker_is_one_warning_and_then_silent(caplog: pytest.LogCaptureFixture) -> None:
    from sseft.core.training import tracking

    calls: list[int] = []

    class Broken:
        is_main_process = True

        def log(self, values: dict, step: int) -> None:
            calls.append(step)
            raise ConnectionError("server gone")

        def end_training(self) -> None:
            raise ConnectionError("server gone")

    acc = Broken()
    cfg = SimpleNamespace(train=SimpleNamespace(log_with=["mlflow"]))
    row = {"epoch": 1, "train_loss": 1.0, "lr": 0.1, "valid": {"loss": 1.0}}
    with caplog.at_level(logging.WARNING, logger="sseft.tracking"):
        tracking.log_epoch(acc, cfg, row)
        tracking.log_epoch(acc, cfg, {**row, "epoch": 2})
        tracking.finish(acc, cfg, {"accuracy": 0.5}, 2)
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records] == [
        "experiment tracking failed while logging epoch 1: server gone; the run goes on without it"
    ]
