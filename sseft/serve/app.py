"""The FastAPI app: routes, error answers (one line each, never a traceback), the page at `/`.

    app = create_app(ServeSettings(models=["my-first-model"]))   # models load here, once per process
    uvicorn.run(app, host="127.0.0.1", port=8000)

`app_from_env` builds the same app from $SSEFT_SERVE_SETTINGS (JSON) for `--workers N`, where
uvicorn starts each worker process from an import string.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sseft import __version__
from sseft.core.errors import ConfigError, DataError, SseftError, UnknownNameError
from sseft.core.serving.batcher import Overloaded

from . import handler
from .conversation import install_conversation
from .guard import BodyTooLarge, Guard
from .schemas import ERROR_RESPONSES, PREDICT_OPENAPI, ModelOut, ModelsOut, PredictionOut
from .served import ServedModel
from .settings import SETTINGS_ENV, ServeSettings
from .uploads import Parsed

log = logging.getLogger("sseft.serve")
STATIC = resources.files("sseft.serve") / "static"


def _error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = getattr(request.state, "request_id", "-")
    return JSONResponse({"error": message, "request_id": rid}, status_code=status, headers=headers)


def _status_of(e: SseftError) -> int:
    if isinstance(e, BodyTooLarge):
        return 413
    if isinstance(e, UnknownNameError):
        return 404
    if isinstance(e, DataError | ConfigError):
        return 422
    return 500  # a model that cannot run here (an encoder missing...): the server's problem, said in one line


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, e: Overloaded) -> JSONResponse:
        return _error(request, 503, str(e), {"Retry-After": str(e.retry_after)})

    @app.exception_handler(SseftError)
    async def sseft_error(request: Request, e: SseftError) -> JSONResponse:
        status = _status_of(e)
        if status == 500:
            log.error("request id=%s failed: %s", getattr(request.state, "request_id", "-"), e)
        return _error(request, status, str(e))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        msg = (
            str(e.detail)
            if e.status_code != 404
            else f"no such page {request.url.path!r}; the API is under /v1 (see /docs)"
        )
        return _error(request, e.status_code, msg, dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "request"
        return _error(request, 422, f"{where}: {err.get('msg', 'invalid')}")

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, e: ClientDisconnect) -> Response:
        return Response(status_code=499)  # nobody reads it; the guard logs the request as 499

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", "-")
        log.exception("request id=%s: internal error", rid)  # the traceback goes to the log, not the client
        return _error(request, 500, f"internal error; the server log has the details under request id {rid}")


def create_app(settings: ServeSettings, served: dict[str, ServedModel] | None = None) -> Any:
    """The ASGI app serving `settings.models` (loaded now unless `served` is given)."""
    tmp_root = Path(settings.tmp_dir or tempfile.gettempdir())
    if not tmp_root.is_dir():
        raise ConfigError(f"--tmp-dir {tmp_root}: not a directory; create it or pick another")
    if served is None:
        loaded = [ServedModel.load(ref, settings, tmp_root) for ref in settings.models]
        served = {m.name: m for m in loaded}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for m in served.values():
            await run_in_threadpool(m.warm)
        yield
        for m in served.values():
            m.batcher.close()

    app = FastAPI(
        title="sseft serve", version=__version__, lifespan=lifespan,
        description="Multimodal emotion recognition: predictions of registered sseft models from video, audio and text.",
    )  # fmt: skip
    app.state.served, app.state.settings = served, settings
    _install_errors(app)
    _install_routes(app, served, settings, tmp_root)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"], expose_headers=["X-Request-ID", "Retry-After"],
        )  # fmt: skip
    return Guard(app, settings)


def _find(served: dict[str, ServedModel], name: str) -> ServedModel:
    if name in served:
        return served[name]
    base = name.split("@")[0]
    if base in served:
        if served[base].ref == name or name.endswith("@latest"):
            return served[base]
        raise UnknownNameError(
            f"unknown model {name!r}: this service serves {served[base].ref} (GET /v1/models)"
        )
    close = difflib.get_close_matches(name, list(served), n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise UnknownNameError(
        f"unknown model {name!r}{hint}; served here: {', '.join(sorted(served))} (GET /v1/models)"
    )


def _install_routes(
    app: FastAPI, served: dict[str, ServedModel], settings: ServeSettings, tmp_root: Path
) -> None:
    # predict first: the router tries routes in order and this one carries the load
    @app.post(
        "/v1/models/{name}/predict", response_model=PredictionOut, summary="Predict from video, audio and/or text",
        openapi_extra=PREDICT_OPENAPI, responses=ERROR_RESPONSES,
    )  # fmt: skip
    async def predict(name: str, request: Request) -> dict[str, Any]:
        """Multipart: files `video`, `audio`, `transcript` (SRT/WebVTT), fields `text`, `attention`,
        `segments`, `segment_seconds`. JSON (text-only models): {"text": ..., "attention": false}."""
        m = _find(served, name)
        parsed = Parsed(tmp_root)
        try:
            return await handler.predict_request(request, m, settings, parsed)
        finally:  # synchronous on purpose: it must run even when the request task is cancelled
            parsed.remove()

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Every model is loaded and its encoders built",
        responses={503: {"description": "Not ready yet."}},
    )
    async def readyz() -> JSONResponse:
        state = {
            n: {"ready": m.ready, "waiting": m.batcher.waiting, **m.batcher.stats.to_dict()}
            for n, m in served.items()
        }
        ready = all(m.ready for m in served.values())
        return JSONResponse({"ready": ready, "models": state}, status_code=200 if ready else 503)

    @app.get(
        "/v1/models", response_model=ModelsOut, summary="The models served here", responses=ERROR_RESPONSES
    )
    async def models() -> dict[str, Any]:
        return {"models": [m.info for m in served.values()]}

    @app.get("/v1/models/{name}", response_model=ModelOut, summary="One model", responses=ERROR_RESPONSES)
    async def model(name: str) -> dict[str, Any]:
        return _find(served, name).info

    install_conversation(app, served, settings, _find)  # POST /v1/models/{name}/conversation


def app_from_env() -> Any:
    """`create_app` with the settings `sseft serve --workers N` put in $SSEFT_SERVE_SETTINGS."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise ConfigError(f"${SETTINGS_ENV} is not set; start the service with `sseft serve`")
    return create_app(ServeSettings.model_validate_json(raw))
