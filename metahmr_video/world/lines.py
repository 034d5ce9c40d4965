"""The vertical vanishing direction of a static camera from straight edges in its images (OpenCV's
line segment detector): walls, doors, windows and poles are vertical, and their images meet in one
point whose back-projection is the world's up in camera coordinates. Given the bodies' mean up as
a prior, it picks the vanishing point near it (the horizontal ones compete otherwise)."""
from __future__ import annotations

import cv2
import numpy as np


def line_planes(gray: np.ndarray, K: np.ndarray, min_length: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Segments of a uint8 image longer than `min_length` x its height, each as the unit normal of
    the plane through it and the camera centre ([N,3], camera frame) and its length ([N] pixels)."""
    segments = cv2.createLineSegmentDetector().detect(gray)[0]
    if segments is None:
        return np.zeros((0, 3)), np.zeros(0)
    s = segments[:, 0].astype(np.float64)
    length = np.linalg.norm(s[:, 2:] - s[:, :2], axis=1)
    s = s[length > min_length * gray.shape[0]]
    kinv = np.linalg.inv(K)
    a = np.c_[s[:, :2], np.ones(len(s))] @ kinv.T
    b = np.c_[s[:, 2:], np.ones(len(s))] @ kinv.T
    n = np.cross(a, b)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n, np.linalg.norm(s[:, 2:] - s[:, :2], axis=1)


def vertical_direction(normals: np.ndarray, lengths: np.ndarray, prior: np.ndarray, max_off_deg: float = 25.0,
                       inlier_deg: float = 1.0, tries: int = 1000, min_lines: int = 8,
                       seed: int = 0) -> np.ndarray | None:
    """The world's up (unit, camera frame) as the direction most lines' planes contain (RANSAC over
    pairs, weighted by length, then a least-squares refit) among directions within `max_off_deg` of
    `prior`; None when fewer than `min_lines` segments support it."""
    if len(normals) < 2:
        return None
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, len(normals), size=(tries, 2))
    v = np.cross(normals[pairs[:, 0]], normals[pairs[:, 1]])
    norm = np.linalg.norm(v, axis=1)
    ok = norm > 1e-6
    v = v[ok] / norm[ok, None]
    v *= np.sign(v @ prior)[:, None]
    v = v[v @ prior >= np.cos(np.radians(max_off_deg))]
    if not len(v):
        return None
    inliers = np.abs(normals @ v.T) < np.sin(np.radians(inlier_deg))  # [N, H]
    best = inliers[:, np.argmax(lengths @ inliers)]
    if best.sum() < min_lines:
        return None
    n = normals[best]
    up = np.linalg.eigh((n * lengths[best, None]).T @ n)[1][:, 0]
    return up if up @ prior >= 0 else -up
