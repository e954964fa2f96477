"""`sseft serve`: registered models behind an HTTP API (FastAPI + uvicorn) and a web page at `/`.

    from sseft.serve import ServeSettings, create_app
    app = create_app(ServeSettings(models=["my-first-model"]))   # an ASGI app; run it with uvicorn

The service is a boundary like the CLI: it parses requests, checks limits and turns errors into one
line; predictions go through `sseft.core.inference.Predictor` (the path `sseft predict` and
`model.predict` use), batched by `sseft.core.serving.DynamicBatcher`. Read: settings.py -> media.py
(decoding checks, segments) -> served.py (one loaded model) -> uploads.py (one request's inputs) ->
app.py (routes, errors, limits) -> static/ (the page). Needs the `serve` extra (fastapi, uvicorn,
python-multipart).
"""

from __future__ import annotations

from sseft.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ServeSettings": ".settings",
        "create_app": ".app",
        "predict_timeline": ".media",
    },
)
