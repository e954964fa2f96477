"""The public facade over core for models given by name: `sseft.robustness(...)`,
`sseft.compare_robustness(...)`, `sseft.predict_conversation(...)`, `evaluate_ref` (what `sseft evaluate` and `sseft demo` score) and
`load_predictor` (what `sseft predict` predicts with).

    import sseft
    res = sseft.robustness("meld-text", "features/meld", split="test", out="rob/")
    print(res.summary())

Core's `sseft.core.robustness.run_robustness(model, store, RobustnessConfig)` runs it; this facade adds
what core may not do: load models given by registry name, artifact or run directory, and hand it
the audio/video raw noise of the modality plugins. Options are RobustnessConfig fields (`config=`
and/or keywords on top); `baseline`, `compare`, `raw_noise` and `progress` go to core as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sseft.core.inference import Prediction, Predictor
    from sseft.core.robustness import RobustnessConfig, RobustnessResult


def load_model(ref: Any, device: str = "cpu") -> Any:
    """A model object as is; a registry reference, an artifact or a run directory loaded by name."""
    if not isinstance(ref, str | os.PathLike):
        return ref
    import sseft
    from sseft.core.training.run_eval import resolve_model_ref

    return sseft.load(resolve_model_ref(str(ref)), device=device)


def evaluate_ref(
    ref: str, store: str | Path, split: str = "test", batch_size: int = 64,
    label_set: str | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """`sseft evaluate`: the metrics of the model `ref` names (registry reference, artifact or run
    directory) on `split` of `store`, with "model": `ref`; None on processes other than the main one."""
    from sseft.core.training.run_eval import evaluate_model

    metrics = evaluate_model(load_model(ref), store, split, batch_size, label_set, name=f"model {ref!r}")
    return None if metrics is None else {**metrics, "model": ref}


def load_predictor(
    ref: str, sets: Sequence[str] = (), *, preset: str | None = None, allow_missing: bool = False,
    device: str | None = None, runtime: str = "torch",
) -> Predictor:  # fmt: skip
    """What `sseft predict` predicts with: the model `ref` names (runtime "onnx": a folder of
    `sseft models export --format onnx`, fusion + head in onnxruntime) behind a Predictor whose
    extractors take the `preset`'s options for the model's modalities, then `sets` on top (a model
    trained on other encoders is refused); `allow_missing` feeds absent modalities as empty."""
    import sseft
    from sseft.core.inference import Predictor
    from sseft.plugins.modalities.presets import override_strings

    model: Any  # an SseftModel, or its ONNX stand-in
    if runtime == "onnx":
        from sseft.core.export import load_onnx

        model = load_onnx(ref, device=device or "cpu")
    else:
        model = sseft.load(ref, device=device or "cpu")
    if preset:
        names = set(model.modality_names)
        sets = (*(s for s in override_strings(preset) if s.split(".", 1)[0] in names), *sets)
    return Predictor(model, sets, allow_missing=True if allow_missing else None, device=device)


def predict_conversation(
    model: Any, turns: Any, *, allow_missing: bool | None = None, overrides: Sequence[str] = (),
    device: str | None = None,
) -> list[Prediction]:  # fmt: skip
    """One Prediction per turn of a conversation, each from the turns up to it (a model trained with
    `context:`): `model` an SseftModel or a registry name / artifact / run directory, `turns` dicts
    {speaker, text, audio, video} in order or a .jsonl/.csv file of them (core/inference/conversation.py)."""
    m = load_model(model, device or "cpu")
    return m.predict_conversation(turns, allow_missing=allow_missing, overrides=tuple(overrides))


def robustness(
    model: Any, store: Any, split: str | None = None, config: RobustnessConfig | None = None, *,
    baseline: Any = None, compare: Any = None, raw_noise: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None, **options: Any,
) -> RobustnessResult:  # fmt: skip
    """See `sseft.core.robustness.run_robustness`; models may be names or directories, `options` are
    RobustnessConfig fields (kinds=, n_levels=, out=, raw=, ...)."""
    from sseft.core.robustness import RobustnessConfig
    from sseft.core.robustness import run_robustness as run
    from sseft.plugins.modalities.raw_noise import media_perturbers

    cfg = RobustnessConfig.build(config, **options, **({"split": split} if split is not None else {}))
    base, other = (load_model(m, cfg.device) if m is not None else None for m in (baseline, compare))
    return run(
        load_model(model, cfg.device), store, cfg, baseline=base, compare=other,
        raw_noise=media_perturbers() if raw_noise is None else raw_noise, progress=progress,
    )  # fmt: skip


def compare_robustness(model_a: Any, model_b: Any, store: Any, **options: Any) -> dict[str, Any]:
    """The paired bootstrap (over items) of the curve-area difference A - B on the same noise."""
    return robustness(model_a, store, compare=model_b, **options).data["compare"]
