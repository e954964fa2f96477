"""Speech modality plugin: wav/flac (soundfile) or a video's audio track (PyAV) -> mono 16 kHz ->
any transformers wav2vec2 / HuBERT / WavLM encoder (hub id or local dir), layer selectable.

Long audio runs in chunks cut on the encoder's frame grid with context on both sides, so every real
frame is computed once and kept (nothing dropped, nothing masked). Optional voice-activity trimming is
a simple energy gate (leading/trailing frames quieter than `vad_threshold_db` below the peak are cut),
or with `vad: silero` the trained Silero VAD (vad.py). Imports only pydantic; the implementation
loads in `build_extractor`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.hookspecs import hookimpl

from .suffixes import AUDIO_FILES, VIDEO_FILES


class SpeechConfig(StrictModel):
    model: str = Field(
        default="facebook/wav2vec2-base",
        description="hub id or local dir (wav2vec2/HuBERT/WavLM); egemaps | compare: openSMILE LLDs (lite extra), +crepe: with CREPE pitch",
    )
    revision: str | None = None
    layer: int = Field(
        default=-1, description="hidden-state index: -1 last layer, 0 = projected CNN features"
    )
    sample_rate: int = Field(default=16000, gt=0, description="rate the encoder expects")
    chunk_seconds: float = Field(
        default=30.0, gt=0.5, description="longest window fed to the encoder at once"
    )
    context_seconds: float = Field(default=1.0, ge=0.0, description="extra audio each side of a chunk")
    normalize: bool | None = Field(
        default=None, description="zero-mean/unit-var input; None: the model's setting"
    )
    vad: bool | Literal["energy", "silero"] = Field(
        default=False,
        description="trim leading/trailing silence: true/energy (energy gate) or silero (Silero VAD, silero-vad wheel)",
    )
    vad_threshold_db: float = Field(default=-40.0, lt=0.0)
    batch_size: int = Field(default=8, gt=0, description="windows of equal length per forward pass")


class SpeechModality:
    name = "speech"
    dim = 768  # wav2vec2-base; the built extractor's dim is authoritative
    provides_cls = False
    max_len = 1024
    input_kinds = ("audio", "video")  # --audio, else the --video's audio track
    suffixes: tuple[str, ...] = AUDIO_FILES + VIDEO_FILES  # wav/flac/..., or a video's audio track
    config_model = SpeechConfig
    # Shown by `sseft plugins`.
    notes = (
        "model=egemaps|compare runs openSMILE (`lite` extra); openSMILE's licence allows research and "
        "education only, not commercial use",
    )

    def build_extractor(
        self, config: SpeechConfig | dict[str, Any] | None = None, device: str = "cpu"
    ) -> Any:
        cfg = config if isinstance(config, SpeechConfig) else SpeechConfig.model_validate(config or {})
        if cfg.model.split("+")[0] in ("egemaps", "compare"):  # openSMILE LLDs (+crepe pitch): egemaps.py
            from .egemaps import OpenSmileExtractor

            return OpenSmileExtractor(cfg, device)
        from ._speech_impl import SpeechExtractor

        return SpeechExtractor(cfg, device)

    def probe(self, raw: Any) -> str | None:
        """Decode `raw` as extraction will, without a model (`sseft data check --probe`): a DataError
        naming the file when it is unusable, else an optional note (all-zero audio)."""
        from .media import probe_audio

        return probe_audio(raw)


PLUGIN = SpeechModality()


@hookimpl
def register_modalities(register: Any) -> None:
    register(PLUGIN)
