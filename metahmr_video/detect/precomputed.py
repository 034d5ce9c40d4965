"""Keypoints computed elsewhere (another detector) as `Detection`s in MediaPipe's 33-point layout.

Formats (keypoint layout found from the number of points: 17 COCO, 18 OpenPose-COCO,
25 OpenPose BODY_25, 33 MediaPipe):
- NPZ: `keypoints` [T, P, K, 3] (x, y pixels, confidence; NaN rows = no person), optional
  `boxes` [T, P, 4] xyxy and `scores` [T, P], optional `frame_indices` [T].
- OpenPose JSON: one `*_keypoints.json` per frame (a folder of them, natural order), each
  {"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}.
- COCO results JSON: a list of {"image_id" | "frame": int, "keypoints": [x, y, v] * 17,
  "score": float, optional "bbox": [x, y, w, h]}.
Keypoints with no MediaPipe counterpart are dropped; MediaPipe points with no source get
confidence 0 and sit at the box centre.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from metahmr_video.core.boxes import box_from_keypoints
from metahmr_video.core.errors import InputError
from metahmr_video.core.layout import COCO_FROM_MEDIAPIPE, Landmark as L
from metahmr_video.core.paths import natural_key
from metahmr_video.core.records import Detection, Frame

# OpenPose BODY_25 order -> MediaPipe index (-1: no MediaPipe counterpart: neck, mid-hip, small toes).
BODY25_TO_MP = (
    L.NOSE, -1, L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST, L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, -1,
    L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.RIGHT_EYE, L.LEFT_EYE,
    L.RIGHT_EAR, L.LEFT_EAR, L.LEFT_FOOT_INDEX, -1, L.LEFT_HEEL, L.RIGHT_FOOT_INDEX, -1, L.RIGHT_HEEL,
)
# OpenPose COCO-18 order (BODY_25 without mid-hip and feet).
COCO18_TO_MP = BODY25_TO_MP[:8] + BODY25_TO_MP[9:19]

_MAPS = {17: COCO_FROM_MEDIAPIPE, 18: COCO18_TO_MP, 25: BODY25_TO_MP, 33: tuple(range(33))}


def to_mediapipe(points: np.ndarray, box: Optional[np.ndarray] = None, score: Optional[float] = None) -> Optional[Detection]:
    """One person's [K, 3] (x, y, conf) keypoints in a known layout -> Detection (None if empty)."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    mapping = _MAPS.get(len(pts))
    if mapping is None:
        raise InputError(f"unknown keypoint layout with {len(pts)} points (expected 17, 18, 25 or 33)")
    conf_in = np.nan_to_num(pts[:, 2], nan=0.0).clip(0, 1)
    valid = np.isfinite(pts[:, :2]).all(1) & (conf_in > 0)
    if valid.sum() == 0:
        return None
    kp = np.zeros((33, 2), np.float32)
    conf = np.zeros(33, np.float32)
    for k, m in enumerate(mapping):
        if m >= 0 and valid[k]:
            kp[m] = pts[k, :2]
            conf[m] = conf_in[k]
    if box is None or not np.isfinite(np.asarray(box, float)).all():
        box = box_from_keypoints(kp, conf, min_conf=1e-6)
    box = np.asarray(box, np.float32)
    centre = (box[:2] + box[2:]) / 2
    kp[conf == 0] = centre
    if score is None or not np.isfinite(score):
        score = float(conf_in[valid].mean())
    return Detection(box=box, score=float(score), keypoints2d=kp, keypoint_conf=conf,
                     world_landmarks=None, source="precomputed")


def load_keypoints(path: str | os.PathLike) -> Dict[int, List[Detection]]:
    """Read a keypoint file/folder (see module doc) into {frame index: [Detection, ...]}."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"keypoint file not found: {path}")
    out: Dict[int, List[Detection]] = defaultdict(list)
    if os.path.isdir(path):
        names = sorted((n for n in os.listdir(path) if n.endswith(".json")), key=natural_key)
        if not names:
            raise InputError(f"no OpenPose *.json files in {path}")
        for i, n in enumerate(names):
            data = _read_json(os.path.join(path, n))
            for d in _openpose_people(data, n):
                out[i].append(d)
        return dict(out)
    if os.path.getsize(path) == 0:
        raise InputError(f"keypoint file is empty (0 bytes): {path}")
    if path.lower().endswith(".npz"):
        try:
            z = np.load(path, allow_pickle=False)
        except Exception as e:
            raise InputError(f"not a readable NPZ file: {path} ({e})") from e
        if "keypoints" not in z.files:
            raise InputError(f"NPZ {path} has no 'keypoints' array (has: {', '.join(z.files)})")
        kps = np.asarray(z["keypoints"], np.float64)
        if kps.ndim == 3:
            kps = kps[:, None]
        if kps.ndim != 4 or kps.shape[-1] != 3:
            raise InputError(f"'keypoints' in {path} must be [frames, people, points, 3], got {kps.shape}")
        boxes = z["boxes"] if "boxes" in z.files else None
        scores = z["scores"] if "scores" in z.files else None
        idx = z["frame_indices"] if "frame_indices" in z.files else np.arange(len(kps))
        for t in range(len(kps)):
            for p in range(kps.shape[1]):
                d = to_mediapipe(kps[t, p], None if boxes is None else boxes[t, p],
                                 None if scores is None else float(scores[t, p]))
                if d is not None:
                    out[int(idx[t])].append(d)
        return dict(out)
    data = _read_json(path)
    if isinstance(data, dict) and "people" in data:
        return {0: _openpose_people(data, path)}
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict) or "keypoints" not in item:
                raise InputError(f"{path}: expected COCO results entries with 'keypoints'")
            t = int(item.get("frame", item.get("image_id", 0)))
            box = None
            if "bbox" in item:
                x, y, w, h = [float(v) for v in item["bbox"]]
                box = np.array([x, y, x + w, y + h])
            pts = np.asarray(item["keypoints"], np.float64).reshape(-1, 3)
            pts[:, 2] = np.where(pts[:, 2] > 1, 1.0, pts[:, 2])  # COCO visibility flags 0/1/2
            d = to_mediapipe(pts, box, item.get("score"))
            if d is not None:
                out[t].append(d)
        return dict(out)
    raise InputError(f"{path}: not an OpenPose or COCO keypoint JSON")


def _read_json(path: str) -> object:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not valid JSON: {path} ({e})") from e


def _openpose_people(data: object, name: str) -> List[Detection]:
    if not isinstance(data, dict) or "people" not in data:
        raise InputError(f"{name}: not an OpenPose JSON (no 'people')")
    dets = []
    for person in data["people"]:
        flat = person.get("pose_keypoints_2d") or []
        if flat:
            d = to_mediapipe(np.asarray(flat, np.float64).reshape(-1, 3))
            if d is not None:
                dets.append(d)
    return dets


class PrecomputedKeypoints:
    """A detector that looks people up by frame index in a keypoint file (a `Detector` of the
    pipeline: hints and the full-search cadence do not apply).

        det = PrecomputedKeypoints("video_keypoints.npz")
        people = det.detect(frame)          # list[Detection] of frame.index
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self.by_frame = load_keypoints(path)

    def __len__(self) -> int:
        return (max(self.by_frame) + 1) if self.by_frame else 0

    def for_frame(self, index: int) -> List[Detection]:
        return list(self.by_frame.get(int(index), []))

    def detect(self, frame: Frame, hints: Sequence[Detection] = (), full: Optional[bool] = True) -> List[Detection]:
        return self.for_frame(frame.index)

    def reset(self) -> None:
        """Nothing to forget between videos."""
