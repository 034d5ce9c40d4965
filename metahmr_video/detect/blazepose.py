"""MediaPipe's bundled BlazePose models run with ai-edge-litert, for several people per image.

Two models ship inside the `mediapipe==0.10.21` wheel:
- `pose_detection.tflite`: SSD-style person detector keyed on the face/upper body; 2254 anchors,
  outputs boxes and 4 alignment keypoints (0 mid-hip, 1 full-body scale/rotation point).
- `pose_landmark_full.tflite`: 33 landmarks (+ 6 auxiliary) on one person's aligned 256x256 crop.

A person's crop is a rotated square, the `Roi`: centre (pixels), side (pixels) and rotation
(radians, positive = the body axis turned clockwise from upright, as MediaPipe defines it).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

import cv2
import numpy as np

from metahmr_video.core.errors import ModelFileError
from metahmr_video.core.quiet import native_stderr_silenced

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256


def mediapipe_model_path(relative: str) -> str:
    """Path of a model file inside the installed mediapipe package (without importing it)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("mediapipe is not installed: pip install mediapipe==0.10.21")
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    if not os.path.isfile(path):
        raise ModelFileError(
            f"{relative} not found in the mediapipe package ({path}); mediapipe==0.10.21 ships it"
        )
    return path


def _interpreter(path: str, num_threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the install
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore
        except ImportError as e:
            raise ModelFileError("ai-edge-litert is not installed: pip install ai-edge-litert") from e
    try:
        with native_stderr_silenced():
            it = Interpreter(model_path=path, num_threads=num_threads)
            it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ModelFileError(f"cannot load model {path}: {e}") from e
    return it


@dataclass
class Roi:
    """Rotated square crop: centre (cx, cy) and side in pixels, rotation in radians."""

    cx: float
    cy: float
    side: float
    rotation: float = 0.0

    def as_array(self) -> np.ndarray:
        return np.array([self.cx, self.cy, self.side, self.rotation], np.float32)

    @staticmethod
    def from_array(a: Sequence[float]) -> "Roi":
        return Roi(float(a[0]), float(a[1]), float(a[2]), float(a[3]))

    def crop_to_image(self, size: int) -> np.ndarray:
        """2x3 affine map from crop pixels (size x size) to image pixels."""
        s = self.side / size
        c, n = np.cos(self.rotation), np.sin(self.rotation)
        r = np.array([[c, -n], [n, c]]) * s
        t = np.array([self.cx, self.cy]) - r @ np.array([size / 2.0, size / 2.0])
        return np.hstack([r, t[:, None]]).astype(np.float64)

    def box(self) -> np.ndarray:
        """Axis-aligned xyxy box around the rotated square."""
        m = self.crop_to_image(1)
        corners = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]], np.float64) @ m.T
        return np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)


def roi_from_alignment_points(
    center: np.ndarray, scale_point: np.ndarray, scale: float = 1.25
) -> Roi:
    """MediaPipe's alignment: square centred on `center` with side 2*|scale_point-center|*scale,
    rotated so that center -> scale_point points up in the crop."""
    d = np.asarray(scale_point, np.float64) - np.asarray(center, np.float64)
    side = 2.0 * float(np.hypot(d[0], d[1])) * scale
    rotation = np.pi / 2 - np.arctan2(-d[1], d[0])
    rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
    return Roi(float(center[0]), float(center[1]), side, float(rotation))


def ssd_anchors() -> np.ndarray:
    """Anchor centres [2254, 2] (normalised) of MediaPipe's pose detection graph: strides
    8, 16, 32, 32, 32 over a 224 input, two anchors per layer and cell, fixed anchor size."""
    centers = []
    strides = [8, 16, 32, 32, 32]
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = 2 * (j - i)
        n = int(np.ceil(DETECTOR_SIZE / strides[i]))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], 1)
        centers.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(centers).astype(np.float32)


@dataclass
class PoseCandidate:
    """One detector output in image pixels: xyxy box (face/upper-body), 4 keypoints, score."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    def roi(self) -> Roi:
        return roi_from_alignment_points(self.keypoints[0], self.keypoints[1])


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou: float) -> List[int]:
    """MediaPipe's weighted non-max suppression; averages boxes/points of each cluster in place
    (score-weighted) and returns the kept indices."""
    from metahmr_video.core.boxes import box_iou

    order = np.argsort(-scores)
    keep: List[int] = []
    remaining = order
    while len(remaining):
        top = remaining[0]
        ious = box_iou(boxes[top:top + 1], boxes[remaining])[0]
        cluster = remaining[ious > iou]
        if len(cluster) == 0:
            cluster = remaining[:1]
        w = scores[cluster][:, None]
        boxes[top] = (boxes[cluster] * w).sum(0) / w.sum()
        points[top] = (points[cluster] * w[:, :, None]).sum(0) / w.sum()
        keep.append(int(top))
        remaining = remaining[ious <= iou]
        remaining = remaining[remaining != top]
    return keep


class PoseDetector:
    """`pose_detection.tflite` over a whole image (letterboxed to 224x224), or over a grid of
    overlapping tiles to find smaller people. Returns `PoseCandidate`s in image pixels.

        det = PoseDetector()
        candidates = det(rgb_image)       # list of PoseCandidate
    """

    def __init__(self, min_score: float = 0.5, nms_iou: float = 0.3, num_threads: int = 2,
                 model_path: Optional[str] = None) -> None:
        self.model_path = model_path or mediapipe_model_path("modules/pose_detection/pose_detection.tflite")
        self.interpreter = _interpreter(self.model_path, num_threads)
        self._in = self.interpreter.get_input_details()[0]["index"]
        outs = self.interpreter.get_output_details()
        self._out_reg = next(o["index"] for o in outs if o["shape"][-1] == 12)
        self._out_cls = next(o["index"] for o in outs if o["shape"][-1] == 1)
        self.anchors = ssd_anchors()
        self.min_score = min_score
        self.nms_iou = nms_iou

    def _run_letterboxed(self, image: np.ndarray, x0: int = 0, y0: int = 0):
        h, w = image.shape[:2]
        scale = DETECTOR_SIZE / max(h, w)
        nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.float32)
        px, py = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        canvas[py:py + nh, px:px + nw] = resized.astype(np.float32) / 127.5 - 1.0
        canvas[:py] = canvas[py + nh:] = 0.0
        self.interpreter.set_tensor(self._in, canvas[None])
        self.interpreter.invoke()
        reg = self.interpreter.get_tensor(self._out_reg)[0]
        logits = self.interpreter.get_tensor(self._out_cls)[0, :, 0]
        scores = (1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))).astype(np.float32)
        sel = np.nonzero(scores >= self.min_score)[0]
        if len(sel) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
        r = reg[sel] / DETECTOR_SIZE
        anc = self.anchors[sel]
        cx, cy = r[:, 0] + anc[:, 0], r[:, 1] + anc[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        kps = r[:, 4:12].reshape(-1, 4, 2) + anc[:, None, :]
        # letterbox (normalised 224 canvas) -> image pixels
        boxes = boxes * DETECTOR_SIZE
        kps = kps * DETECTOR_SIZE
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - px) / scale + x0
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - py) / scale + y0
        kps[..., 0] = (kps[..., 0] - px) / scale + x0
        kps[..., 1] = (kps[..., 1] - py) / scale + y0
        return boxes.astype(np.float32), kps.astype(np.float32), scores[sel].astype(np.float32)

    def __call__(self, image: np.ndarray, tiles: int = 1, overlap: float = 0.25) -> List[PoseCandidate]:
        """Detect people in an RGB uint8 image. tiles=n also runs an n x n grid of tiles
        (each overlapping its neighbours by `overlap`) after the whole image."""
        parts = [self._run_letterboxed(image)]
        if tiles > 1:
            h, w = image.shape[:2]
            tw, th = w / (tiles - (tiles - 1) * overlap), h / (tiles - (tiles - 1) * overlap)
            for iy in range(tiles):
                for ix in range(tiles):
                    x0 = int(round(ix * tw * (1 - overlap)))
                    y0 = int(round(iy * th * (1 - overlap)))
                    x1, y1 = min(w, int(round(x0 + tw))), min(h, int(round(y0 + th)))
                    parts.append(self._run_letterboxed(image[y0:y1, x0:x1], x0, y0))
        boxes = np.concatenate([p[0] for p in parts])
        kps = np.concatenate([p[1] for p in parts])
        scores = np.concatenate([p[2] for p in parts])
        if len(scores) == 0:
            return []
        keep = weighted_nms(boxes, kps, scores, self.nms_iou)
        return [PoseCandidate(boxes[k], kps[k], float(scores[k])) for k in keep]


@dataclass
class LandmarkResult:
    """Landmark model output for one crop, mapped to image pixels.

    keypoints: [39, 3] x, y pixels and z (pixels-scaled, relative depth); visibility, presence:
    [39] probabilities; world: [33, 3] metres (rotated into the image's orientation);
    score: pose-present probability; roi: the crop used; next_roi: the crop to use in the next frame
    (from the two auxiliary alignment landmarks, as BlazePose tracks)."""

    keypoints: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    roi: Roi
    next_roi: Roi


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


class PoseLandmarker:
    """`pose_landmark_full.tflite` on aligned crops; several crops per call run as one batch.

        lm = PoseLandmarker()
        results = lm(rgb_image, [Roi(cx, cy, side, 0.0)])
    """

    def __init__(self, num_threads: int = 2, model_path: Optional[str] = None) -> None:
        self.model_path = model_path or mediapipe_model_path("modules/pose_landmark/pose_landmark_full.tflite")
        self.interpreter = _interpreter(self.model_path, num_threads)
        self._in = self.interpreter.get_input_details()[0]["index"]
        outs = self.interpreter.get_output_details()
        self._out_lm = next(o["index"] for o in outs if list(o["shape"]) == [1, 195])
        self._out_flag = next(o["index"] for o in outs if list(o["shape"]) == [1, 1])
        self._out_world = next(o["index"] for o in outs if list(o["shape"]) == [1, 117])

    def crop(self, image: np.ndarray, roi: Roi) -> np.ndarray:
        """The 256x256 RGB float crop in [0, 1] that the model sees for `roi`."""
        m = roi.crop_to_image(LANDMARK_SIZE)
        patch = cv2.warpAffine(image, m, (LANDMARK_SIZE, LANDMARK_SIZE),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return patch.astype(np.float32) * (1.0 / 255.0)

    def __call__(self, image: np.ndarray, rois: Sequence[Roi]) -> List[LandmarkResult]:
        out: List[LandmarkResult] = []
        for roi in rois:
            if not (roi.side > 4 and np.isfinite(roi.as_array()).all()):
                continue
            self.interpreter.set_tensor(self._in, self.crop(image, roi)[None])
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self._out_lm)[0].reshape(39, 5)
            flag = float(self.interpreter.get_tensor(self._out_flag)[0, 0])
            world = self.interpreter.get_tensor(self._out_world)[0].reshape(39, 3)[:33].copy()
            m = roi.crop_to_image(LANDMARK_SIZE)
            xy = raw[:, :2].astype(np.float64) @ m[:, :2].T + m[:, 2]
            z = raw[:, 2] * (roi.side / LANDMARK_SIZE)
            c, n = np.cos(roi.rotation), np.sin(roi.rotation)
            world[:, :2] = world[:, :2] @ np.array([[c, -n], [n, c]]).T
            kp = np.concatenate([xy, z[:, None]], 1).astype(np.float32)
            out.append(LandmarkResult(
                keypoints=kp,
                visibility=_sigmoid(raw[:, 3]).astype(np.float32),
                presence=_sigmoid(raw[:, 4]).astype(np.float32),
                world=world.astype(np.float32),
                score=flag,
                roi=roi,
                next_roi=roi_from_alignment_points(kp[33, :2], kp[34, :2]),
            ))
        return out
