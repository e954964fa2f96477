"""The model card (README.md): YAML front matter as the Hugging Face Hub reads it, then prose.

Everything comes from what the artifact records (config.json and the weights' safetensors header):
the label set, the modalities and their encoders' fingerprints, the fusion and head, the training
record (experiment config: data, splits, seeds, epochs), the metrics (one run, or mean +- std over
seeds when the training record or the metrics say the model came from a multi-seed run). The only
fixed text is the citation, the known limits of the corpora sseft reads (by dataset plugin name)
and how to load the folder. No torch: publishing and `sseft models show` stay light.

    text = build_card(json.load(open("config.json")), Path("model.safetensors"), name="meld-text@3")
    front_matter(text)   # {"library_name": "sseft", "tags": [...], ...}
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml

from sseft.core.files import atomic_write_text

from .integrity import CARD, CHECKSUMS, CONFIG, WEIGHTS, safetensors_header

CITATION = """@article{siriwardhana2020multimodal,
  title   = {Multimodal Emotion Recognition With Transformer-Based Self Supervised Feature Fusion},
  author  = {Siriwardhana, Shamane and Kaluarachchi, Tharindu and Billinghurst, Mark and Nanayakkara, Suranga},
  journal = {IEEE Access},
  volume  = {8},
  pages   = {176274--176285},
  year    = {2020},
  doi     = {10.1109/ACCESS.2020.3026823}
}"""

# What is known about the corpora the built-in dataset plugins read (docs/recipes.md), by plugin name.
DATASET_LIMITS = {
    "meld": "English dialogue from the TV series *Friends*: acted, scripted speech with studio audio, "
    "laughter tracks and several speakers per scene; emotion labels are skewed towards neutral.",
    "iemocap": "English dyadic sessions by 10 actors in a studio (scripted and improvised): acted "
    "emotion, close-talk microphones, one camera angle.",
    "cmu": "English YouTube monologues (CMU-MOSI / CMU-MOSEI): opinion videos recorded by the speakers "
    "themselves, varied microphones and lighting; sentiment in [-3, 3].",
    "synthetic": "Generated data with planted cues (sseft's built-in synthetic task): it says nothing "
    "about real speech, text or faces; for tests and demonstrations only.",
}
PIPELINE_BY_INPUT = (("video", "video-classification"), ("audio", "audio-classification"))


def fingerprint_id(fp: dict[str, Any] | None) -> str:
    """A short, stable id of an encoder fingerprint (sha256 of its canonical JSON, 12 hex digits)."""
    if not fp:
        return "none"
    raw = json.dumps(fp, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


def stored_parameter_count(weights: Path) -> int | None:
    """Parameters in a safetensors file, read from its header (None when there is no file)."""
    if not weights.is_file():
        return None
    total = 0
    for key, info in safetensors_header(weights).items():
        if key != "__metadata__":
            total += math.prod(int(x) for x in info.get("shape", []))
    return total


# -- what the artifact records -------------------------------------------------------------------
def _experiment(data: dict[str, Any]) -> dict[str, Any]:
    cfg = (data.get("training") or {}).get("config")
    return cfg if isinstance(cfg, dict) else {}


def _dataset(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(dataset plugin name, feature store) of the training record."""
    d = _experiment(data).get("data") or {}
    gen = d.get("generate") or {}
    name = gen.get("dataset") if isinstance(gen, dict) else None
    if name is None and d.get("synthetic") is not None:
        name = "synthetic"
    store = d.get("store")
    return (str(name) if name else None), (str(store) if store else None)


def _seeds(data: dict[str, Any]) -> list[Any]:
    training = data.get("training") or {}
    for source in (training, _experiment(data).get("train") or {}, _experiment(data)):
        seeds = source.get("seeds") if isinstance(source, dict) else None
        if isinstance(seeds, list) and seeds:
            return seeds
    return []


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def metric_lines(metrics: Any) -> list[tuple[str, str, str, float | None]]:
    """(split, metric, shown value, number for model-index) for every number the artifact records:
    plain values, or {"mean", "std", "n"} summaries over seeds ("mean ± std (n = k)")."""
    rows: list[tuple[str, str, str, float | None]] = []

    def one(split: str, name: str, v: Any) -> None:
        if _is_number(v):
            rows.append((split, name, f"{v:.4g}", float(v)))
        elif isinstance(v, dict) and _is_number(v.get("mean")):
            std = f" ± {v['std']:.4g}" if _is_number(v.get("std")) else ""
            n = f" (n = {v['n']})" if isinstance(v.get("n"), int) else ""
            rows.append((split, name, f"{v['mean']:.4g}{std}{n}", float(v["mean"])))

    for k, v in (metrics or {}).items() if isinstance(metrics, dict) else []:
        if isinstance(v, dict) and not _is_number(v.get("mean")):
            for name, x in v.items():
                one(str(k), str(name), x)
        else:
            one("", str(k), v)
    return rows


def recorded_context(model: dict[str, Any]) -> str | None:
    """The dialogue context the artifact's model was built with, in the words of
    core/context/config.py `ContextConfig.describe()` (with "OFFLINE ANALYSIS ONLY" for a model
    that reads later turns); None for a model that reads each utterance alone."""
    recorded = model.get("context")
    if not recorded:
        return None
    from sseft.core.context.config import ContextConfig  # imported only for a model with context

    ctx = ContextConfig.model_validate(recorded)
    return ctx.describe() if ctx.enabled else None


def _pipeline_tag(model: dict[str, Any]) -> str:
    kinds = {k for ks in (model.get("input_kinds") or {}).values() for k in ks}
    names = {s.get("name") for s in model.get("modalities", [])}
    if not kinds:  # older artifacts: the built-in modality names say it
        kinds = {"video" if "face" in names else "", "audio" if "speech" in names else "", "text"}
    for kind, tag in PIPELINE_BY_INPUT:
        if kind in kinds:
            return tag
    return "text-classification"


def front_matter_data(data: dict[str, Any]) -> dict[str, Any]:
    """The Hub's metadata: library_name, tags, license, datasets, metrics, pipeline_tag, model-index."""
    m = data["model"]
    dataset, _ = _dataset(data)
    fusion = (m.get("fusion") or {}).get("name") or (m.get("fusion") or {}).get("kind") or "sseft"
    mods = [str(s.get("name")) for s in m.get("modalities", [])]
    training = data.get("training") or {}
    rows = metric_lines(data.get("metrics"))
    test = [(k, x) for split, k, _, x in rows if split in ("test", "") and x is not None and k != "n"]
    fm: dict[str, Any] = {
        "library_name": "sseft",
        "tags": ["sseft", "emotion-recognition", "multimodal", f"fusion-{fusion}", str(m.get("task")), *mods]
        + (["dialogue-context"] if recorded_context(m) else []),
        "license": str(training.get("license") or "other"),
        "datasets": [dataset] if dataset else [],
        "metrics": sorted({k for k, _ in test}),
        "pipeline_tag": _pipeline_tag(m),
    }
    if test and dataset:
        fm["model-index"] = [
            {
                "name": str(training.get("experiment") or "sseft-model"),
                "results": [
                    {
                        "task": {"type": fm["pipeline_tag"], "name": str(m.get("task"))},
                        "dataset": {"name": dataset, "type": dataset},
                        "metrics": [{"type": k, "value": x} for k, x in test],
                    }
                ],
            }
        ]
    return fm


# -- the card --------------------------------------------------------------------------------------
def build_card(data: dict[str, Any], weights: Path | None = None, name: str | None = None) -> str:
    """README.md for the artifact whose config.json is `data` (module docstring)."""
    m = data["model"]
    training = data.get("training") or {}
    exp = _experiment(data)
    dataset, store = _dataset(data)
    d = exp.get("data") or {}
    train_cfg = exp.get("train") or {}
    n_params = stored_parameter_count(weights) if weights is not None else None
    fusion = m.get("fusion") or {}
    fusion_name = fusion.get("name") or fusion.get("kind") or "sseft"
    title = name or training.get("experiment") or "sseft model"
    labels = ", ".join(f"`{x}`" for x in m["label_names"])
    size = f", {n_params:,} parameters" if n_params is not None else ""
    fm = yaml.safe_dump(front_matter_data(data), sort_keys=False, allow_unicode=True).strip()
    out = [
        "---",
        fm,
        "---",
        "",
        f"# {title}",
        "",
        f"`{fusion_name}` fusion of {len(m['modalities'])} modalit{'y' if len(m['modalities']) == 1 else 'ies'} "
        f"with a `{m['head']['name']}` head (task `{m['task']}`){size}.",
        "",
        f"**Labels:** {labels}",
        "",
    ]
    context = recorded_context(m)
    if context:
        out += [f"**Dialogue context:** {context}", ""]
    out += [
        "## Modalities and encoders",
        "",
        "| modality | features | encoder | fingerprint |",
        "|---|---|---|---|",
    ]
    for s in m["modalities"]:
        fp = s.get("fingerprint") or {}
        enc = fp.get("model") or fp.get("source") or "precomputed features (no encoder recorded)"
        feats = f"{s['dim']}-d, up to {s.get('max_len', '?')} frames"
        out.append(f"| {s['name']} | {feats} | `{enc}` | `{fingerprint_id(fp or None)}` |")
    out += [
        "",
        "Predicting from raw inputs rebuilds each encoder from its fingerprint (config.json lists the full",
        "fingerprints); a different encoder is refused.",
        "",
        "## Training data and split",
        "",
    ]
    if exp:
        out.append(
            f"- dataset: {f'`{dataset}`' if dataset else 'not recorded'}; feature store: `{store or '?'}`"
        )
        splits = (d.get("train_split", "train"), d.get("valid_split", "valid"), d.get("test_split", "test"))
        out.append(f"- splits: train `{splits[0]}`, validation `{splits[1]}`, test `{splits[2]}`")
        if d.get("labels"):
            out.append(f"- label set: `{d['labels']}`")
        if d.get("folds"):
            out.append(f"- folds: `{json.dumps(d['folds'], sort_keys=True)}`")
        keys = ("epochs", "batch_size", "lr", "seed")
        out.append("- training: " + ", ".join(f"{k} {train_cfg[k]}" for k in keys if k in train_cfg))
    else:
        out.append("This artifact records no training configuration.")
    out += ["", "## Results", ""]
    rows = metric_lines(data.get("metrics"))
    seeds = _seeds(data)
    multi = len(seeds) > 1 or any("±" in shown for _, _, shown, _ in rows)
    if rows:
        if multi:
            n = f" {len(seeds)}" if seeds else ""
            out.append(f"Mean ± sample standard deviation over{n} seeds{f' ({seeds})' if seeds else ''}.")
        else:
            out.append("One training run (one seed): a single run is not a result; compare over seeds.")
        out += ["", "| split | metric | value |", "|---|---|---|"]
        out += [f"| {split or '-'} | {k} | {shown} |" for split, k, shown, _ in rows]
    else:
        out.append("This artifact records no metrics.")
    primary = (m["head"].get("config") or {}).get("primary_metric")
    out += [
        "",
        "## Protocol",
        "",
        "Model selection (best epoch, early stopping) used the validation split only"
        + (f", on `{primary}`" if primary else "")
        + "; the test split was read once, after training.",
        "",
        "## Intended use and known limits",
        "",
        "Research on multimodal emotion and sentiment recognition from the inputs above. Not for decisions",
        "about people (hiring, policing, health, education): emotion labels are annotators' judgements of",
        "expressed emotion, not of what anyone feels.",
        "",
    ]
    if context and (m.get("context") or {}).get("direction") == "both":
        out.append(f"- Dialogue context: {context}.")
    limit = DATASET_LIMITS.get(dataset or "")
    out.append(
        f"- Training data: {limit}" if limit else "- Training data: see the dataset's own documentation."
    )
    out += [
        "- Language: the language of the training data (the text encoder above was not checked on others).",
        "- Recording conditions: microphones, cameras, noise and lighting unlike the training data lower accuracy;",
        "  acted corpora exaggerate expressions compared with spontaneous speech.",
        "",
        "## How to use",
        "",
        "```python",
        "import sseft",
        'model = sseft.load("path/to/this/folder")  # or "hf:ORG/REPO", or a registry name',
        "```",
        "",
        f"Files: {CONFIG} (everything needed to rebuild the model), {WEIGHTS} (weights), {CARD} (this card),",
        f"{CHECKSUMS} (sha256 of each file; `sseft models verify` and every load check them). No pickles.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
        f"Created {data.get('created', '?')} with sseft {(data.get('packages') or {}).get('sseft', '?')}, "
        f"torch {(data.get('packages') or {}).get('torch', '?')}.",
        "",
    ]
    return "\n".join(out)


def front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a card ({} when it has none)."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}
    data = yaml.safe_load(text[4:end])
    return data if isinstance(data, dict) else {}


def write_card(directory: Path, name: str | None = None) -> Path:
    """(Re)write README.md of the artifact in `directory` from its config.json and weights. The caller
    rewrites checksums.json afterwards (publishing does)."""
    data = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    return atomic_write_text(directory / CARD, build_card(data, directory / WEIGHTS, name))
