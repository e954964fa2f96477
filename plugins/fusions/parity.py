"""MMSA 2.2.1's settings for TFN, LMF and MulT on MOSI and MOSEI, and its parameter counts by hand.

The settings are MMSA's `config_regression.json` (unaligned features: text 768 (BERT features used
as given, no BERT inside), audio 5 / 74 (COVAREP), vision 20 / 35 (FACET); one regression output).
`mmsa_count` recomputes, from the layer sizes of MMSA's TFN.py, LMF.py, MULT.py and their subnets,
how many trainable parameters MMSA's model has, and how many of them belong to its final output
layer, which in sseft is the head. `fusion_options` are the same settings as sseft fusion options
(configs/mosi-{tfn,lmf,mult}.yaml and mosei-* hold them too). No torch here.
"""

from __future__ import annotations

from typing import Any

FEATURES = {  # unaligned_50.pkl: (dim, max_len) of text, audio, vision
    "mosi": {"text": (768, 50), "audio": (5, 500), "vision": (20, 375)},
    "mosei": {"text": (768, 50), "audio": (74, 500), "vision": (35, 375)},
}

# config_regression.json, per model and dataset (hidden_dims order: text, audio, video)
MMSA: dict[str, dict[str, dict[str, Any]]] = {
    "tfn": {
        "mosi": {"hidden_dims": (128, 32, 128), "text_out": 32, "post_fusion_dim": 64, "dropouts": (0.3, 0.3, 0.3, 0.5)},
        "mosei": {"hidden_dims": (128, 16, 128), "text_out": 128, "post_fusion_dim": 16, "dropouts": (0.4, 0.4, 0.4, 0.4)},
    },
    "lmf": {  # text_out is hidden_dims[0] // 2 in LMF.py
        "mosi": {"hidden_dims": (128, 16, 128), "rank": 3, "dropouts": (0.3, 0.3, 0.3, 0.3)},
        "mosei": {"hidden_dims": (128, 16, 128), "rank": 4, "dropouts": (0.2, 0.2, 0.2, 0.2)},
    },
    "mult": {
        "mosi": {"dim": 50, "heads": 10, "nlevels": 4, "kernels": (5, 5, 5), "attn_dropout": 0.3,
                 "attn_dropout_a": 0.2, "attn_dropout_v": 0.0, "relu_dropout": 0.0, "embed_dropout": 0.2,
                 "res_dropout": 0.0, "output_dropout": 0.5, "text_dropout": 0.5},
        "mosei": {"dim": 30, "heads": 6, "nlevels": 4, "kernels": (5, 1, 3), "attn_dropout": 0.4,
                  "attn_dropout_a": 0.0, "attn_dropout_v": 0.0, "relu_dropout": 0.0, "embed_dropout": 0.0,
                  "res_dropout": 0.0, "output_dropout": 0.5, "text_dropout": 0.3},
    },
}  # fmt: skip


def _linear(i: int, o: int) -> int:
    return i * o + o


def _subnet(i: int, h: int) -> int:  # SubNet: BatchNorm1d(i) + 3 Linear
    return 2 * i + _linear(i, h) + 2 * _linear(h, h)


def _text_subnet(i: int, h: int, o: int) -> int:  # TextSubNet: LSTM(i, h) (two bias vectors) + Linear(h, o)
    return 4 * h * (i + h) + 8 * h + _linear(h, o)


def _encoder(d: int, layers: int) -> int:  # MulT TransformerEncoder: per layer 12 d^2 + 13 d, final LayerNorm
    return layers * (12 * d * d + 13 * d) + 2 * d


def mmsa_count(model: str, dataset: str) -> tuple[int, int]:
    """(MMSA's trainable parameters, of which its final output layer) at its settings, one output."""
    c = MMSA[model][dataset]
    (lt, _), (la, _), (lv, _) = FEATURES[dataset].values()
    if model in ("tfn", "lmf"):
        ht, ha, hv = c["hidden_dims"]
        text_out = c["text_out"] if model == "tfn" else ht // 2
        subnets = _subnet(la, ha) + _subnet(lv, hv) + _text_subnet(lt, ht, text_out)
        if model == "tfn":
            p = c["post_fusion_dim"]
            out = _linear(p, 1)
            return subnets + _linear((text_out + 1) * (hv + 1) * (ha + 1), p) + _linear(p, p) + out, out
        r = c["rank"]  # factors (r, h_m + 1, 1), fusion weights (1, r), bias (1, 1); no separate output layer
        return subnets + r * (ha + 1) + r * (hv + 1) + r * (text_out + 1) + r + 1, 0
    d, layers = c["dim"], c["nlevels"]
    convs = sum(i * d * k for i, k in zip((lt, la, lv), c["kernels"], strict=True) if i != d)  # bias=False
    cross = 6 * _encoder(d, layers)
    mem = 3 * _encoder(2 * d, max(layers, 3))
    combined = 2 * 3 * d
    out = _linear(combined, 1)
    return convs + cross + mem + 2 * _linear(combined, combined) + out, out


def fusion_options(model: str, dataset: str) -> dict[str, Any]:
    """The sseft `fusion:` section with MMSA's settings (modalities text, audio, vision)."""
    c = MMSA[model][dataset]
    if model in ("tfn", "lmf"):
        ht, ha, hv = c["hidden_dims"]
        da, dv, _, dpost = c["dropouts"]
        text_out = c["text_out"] if model == "tfn" else ht // 2
        subnets = {
            # MMSA's TextSubNet drops its dropout for a 1-layer LSTM (FeatureNets.py): 0 in effect
            "text": {"kind": "lstm", "hidden": ht, "out": text_out, "dropout": 0.0},
            "audio": {"kind": "dnn", "hidden": ha, "dropout": da},
            "vision": {"kind": "dnn", "hidden": hv, "dropout": dv},
        }
        if model == "tfn":
            return {
                "name": "tfn",
                "subnets": subnets,
                "post_fusion_dim": c["post_fusion_dim"],
                "post_fusion_dropout": dpost,
            }
        return {"name": "lmf", "subnets": subnets, "rank": c["rank"], "out_dim": 1}
    kt, ka, kv = c["kernels"]
    return {
        "name": "mult", "dim": c["dim"], "heads": c["heads"], "layers": c["nlevels"],
        "kernels": {"text": kt, "audio": ka, "vision": kv},
        "attn_dropout": c["attn_dropout"],
        "attn_dropout_source": {"audio": c["attn_dropout_a"], "vision": c["attn_dropout_v"]},
        "relu_dropout": c["relu_dropout"], "res_dropout": c["res_dropout"], "embed_dropout": c["embed_dropout"],
        "out_dropout": c["output_dropout"], "input_dropout": {"text": c["text_dropout"]},
    }  # fmt: skip


def mmsa_modalities(dataset: str) -> list[dict[str, Any]]:
    """ModalitySpec fields of MMSA's unaligned features (no projection: each fusion brings its own)."""
    return [{"name": m, "dim": d, "max_len": n} for m, (d, n) in FEATURES[dataset].items()]
