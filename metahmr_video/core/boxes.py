"""Axis-aligned person boxes (xyxy, pixels): overlap and the box around keypoints."""
from __future__ import annotations

import numpy as np


def box_from_keypoints(keypoints2d: np.ndarray, conf: np.ndarray, min_conf: float = 0.3,
                       pad: float = 0.1) -> np.ndarray:
    """xyxy box (pixels) around the keypoints with conf >= min_conf (all of them if fewer than 3),
    padded by `pad` times the box's larger side on every edge (landmarks are joints, not the
    silhouette)."""
    kp = np.asarray(keypoints2d, np.float32)
    sel = np.asarray(conf) >= min_conf
    if sel.sum() < 3:
        sel = np.ones(len(kp), bool)
    pts = kp[sel]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    p = pad * max(x1 - x0, y1 - y0)
    return np.array([x0 - p, y0 - p, x1 + p, y1 + p], np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of xyxy boxes."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def box_inside(a: np.ndarray, b: np.ndarray) -> float:
    """The share of xyxy box `a`'s area that lies inside box `b` (0..1)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return float(inter / max(np.prod(a[2:] - a[:2]), 1e-6))
