"""`sseft serve`: registered models behind an HTTP API and a web page (needs the `serve` extra).

    sseft serve my-first-model                         # http://127.0.0.1:8000/ (the page), /docs (the API)
    sseft serve meld-emotion@3 mosi-sentiment --port 9000 --workers 2 --token-file token.txt

Binds 127.0.0.1 unless --host says otherwise; --token (or $SSEFT_SERVE_TOKEN) makes the API require
`Authorization: Bearer <token>`. See docs/serve.md for limits, proxies and workers.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sseft.core.errors import ConfigError

if TYPE_CHECKING:
    from sseft.serve.settings import ServeSettings


def _settings(**values: object) -> ServeSettings:
    from pydantic import ValidationError

    from sseft.serve.settings import ServeSettings

    try:
        return ServeSettings.with_env(**values)
    except ValidationError as e:
        err = e.errors()[0]
        where = "--" + ".".join(str(p) for p in err["loc"]).replace("_", "-")
        raise ConfigError(f"{where}: {err['msg']}") from None


@click.command()
@click.argument("models", nargs=-1, required=True, metavar="MODEL [MODEL ...]")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface)."
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes, each loading the models once.",
)
@click.option(
    "--token", default=None, help="Bearer token the API requires (prefer $SSEFT_SERVE_TOKEN or --token-file)."
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the bearer token from this file.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow this origin (CORS is off without).",
)
@click.option("--max-body-mb", default=64.0, show_default=True, help="Largest request body (413 above).")
@click.option("--max-seconds", default=900.0, show_default=True, help="Longest clip (422 above).")
@click.option("--max-text-chars", default=5000, show_default=True, help="Longest text (422 above).")
@click.option(
    "--max-batch",
    default=8,
    show_default=True,
    help="Dynamic batcher: items per forward pass (1: batching off).",
)
@click.option(
    "--max-wait-ms",
    default=0.0,
    show_default=True,
    help="Dynamic batcher: optional extra wait for a batch to fill (0: continuous batching, an idle "
    "worker runs what is queued at once).",
)
@click.option(
    "--max-queue", default=32, show_default=True, help="Waiting requests per model before 503 + Retry-After."
)
@click.option("--segments", type=click.Choice(["auto", "vad", "fixed", "none"]), default="auto", show_default=True,
              help="How a clip longer than the model's utterance length is cut.")  # fmt: skip
@click.option(
    "--segment-seconds",
    type=float,
    default=None,
    help="Segment window (default: the model's utterance length).",
)
@click.option("--allow-missing", is_flag=True, help="Predict without a modality that has no input.")
@click.option("--device", default="cpu", show_default=True)
@click.option(
    "--tmp-dir", type=click.Path(file_okay=False, path_type=Path), help="Where uploads wait while predicted."
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True
)
def serve(
    models: tuple[str, ...], host: str, port: int, workers: int, token: str | None, token_file: Path | None,
    cors_origins: tuple[str, ...], max_body_mb: float, max_seconds: float, max_text_chars: int, max_batch: int,
    max_wait_ms: float, max_queue: int, segments: str, segment_seconds: float | None, allow_missing: bool,
    device: str, tmp_dir: Path | None, log_level: str,
) -> None:  # fmt: skip
    """Serve MODEL(s) (registry names, name@version) over HTTP with a web page at /."""
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("sseft serve needs the serve extra: pip install 'sseft[serve]'") from None
    if token_file is not None:
        if not token_file.is_file():
            raise ConfigError(f"--token-file {token_file}: file not found")
        token = token_file.read_text(encoding="utf-8").strip()
    settings = _settings(
        models=list(models), token=token, cors_origins=list(cors_origins), max_body_mb=max_body_mb,
        max_seconds=max_seconds, max_text_chars=max_text_chars, max_batch=max_batch, max_wait_ms=max_wait_ms,
        max_queue=max_queue, segments=segments, segment_seconds=segment_seconds,
        allow_missing=True if allow_missing else None, device=device, tmp_dir=str(tmp_dir) if tmp_dir else None,
    )  # fmt: skip
    from sseft.serve.transport import OneSendHTTP  # uvicorn's HTTP protocol, each response in one send

    config = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": _log_config(log_level),
        "server_header": False,
        "proxy_headers": True,
        "http": OneSendHTTP,
    }
    if workers == 1:
        from sseft.serve import create_app

        app = create_app(settings)  # the models load here: a bad name fails before anything listens
        _announce(settings, host, port, workers)
        uvicorn.run(app, **config)  # type: ignore[arg-type]
        return
    import sseft
    from sseft.serve.settings import SETTINGS_ENV

    for ref in models:  # fail here, once, rather than in every worker
        sseft.list_models(ref.split("@")[0]) or sseft.load(ref)
    _announce(settings, host, port, workers)
    os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump())
    uvicorn.run("sseft.serve.app:app_from_env", factory=True, workers=workers, **config)  # type: ignore[arg-type]


def _log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging config plus the service's request lines (logger `sseft.serve`: id, method,
    path, model, status, ms) at --log-level, on uvicorn's stderr handler; uvicorn applies it in every
    worker process too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sseft.serve"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config


def _announce(settings: ServeSettings, host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"sseft serve: {', '.join(settings.models)} on http://{shown}:{port}/ (API: /v1/models, schema: /docs)"
    )
    if workers > 1:
        click.echo(f"{workers} worker processes, each loading the models once")
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        click.secho(
            f"warning: listening on {host} without a token: anyone who can reach this port can use the API "
            "(set --token-file or $SSEFT_SERVE_TOKEN)", fg="yellow", err=True,
        )  # fmt: skip
