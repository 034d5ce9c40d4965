"""Robust multi-view triangulation of 2D landmarks (pure numpy, batched over points).

Pixels are undistorted first (`undistort`), so every view is a pinhole camera P = K [R | t]
(world metres -> pixels). `triangulate` is the confidence-weighted DLT; `robust_triangulate`
tries every subset of at least two confident views and keeps, per point, the largest subset
whose reprojection errors all stay under a pixel threshold (ties: the lowest mean error), so a
view whose detection is off (a wrong person, a left/right swap, an occluded limb) is rejected.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np


def undistort(points: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Distorted pixels [..., 2] -> undistorted pixels [..., 2] of the same K (OpenCV model)."""
    pts = np.asarray(points, np.float64)
    flat = pts.reshape(-1, 1, 2)
    ok = np.isfinite(flat).all(-1)[:, 0]
    out = np.full_like(flat, np.nan)
    if ok.any():
        out[ok] = cv2.undistortPoints(flat[ok], K, dist, P=K)
    return out.reshape(pts.shape)


def project(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Pinhole projection: P [V,3,4], X [..., 3] world -> [V, ..., 2] pixels."""
    h = np.einsum("vij,...j->v...i", P[:, :, :3], X) + P[:, None, :, 3].reshape(P.shape[0], *([1] * (X.ndim - 1)), 3)
    return h[..., :2] / h[..., 2:3]


def triangulate(P: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted DLT. P [V,3,4]; x [V,N,2] undistorted pixels; w [V,N] >= 0 weights (0 = unused).
    Returns X [N,3] world (NaN where fewer than two views have weight)."""
    V, N = w.shape
    xs = np.nan_to_num(x)
    rows = np.concatenate([xs[..., :1] * P[:, None, 2] - P[:, None, 0],
                           xs[..., 1:] * P[:, None, 2] - P[:, None, 1]], axis=0)    # [2V, N, 4]
    rows = rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)
    ww = np.concatenate([w, w], axis=0)[..., None]
    A = np.transpose(rows * ww, (1, 0, 2))                                            # [N, 2V, 4]
    _, _, vt = np.linalg.svd(A)
    Xh = vt[:, -1]
    X = Xh[:, :3] / Xh[:, 3:]
    X[(w > 0).sum(0) < 2] = np.nan
    return X


@dataclass
class Triangulation:
    """points [N,3] world metres (NaN: no consistent pair of views); views [N,V] bool, the views
    used; error_px [N,V] reprojection error of every view with a detection (NaN otherwise)."""

    points: np.ndarray
    views: np.ndarray
    error_px: np.ndarray

    @property
    def mean_error_px(self) -> np.ndarray:
        """[N] mean reprojection error over the used views (pixels)."""
        e = np.where(self.views, self.error_px, np.nan)
        with np.errstate(invalid="ignore"):
            return np.nanmean(np.where(self.views.any(1, keepdims=True), e, 0.0), axis=1)


def robust_triangulate(P: np.ndarray, x: np.ndarray, conf: np.ndarray, max_error_px, min_conf: float = 0.5,
                       allowed: np.ndarray | None = None) -> Triangulation:
    """Per point, the largest subset of confident views (conf >= min_conf, finite x, `allowed`
    [V] bool) that reprojects within max_error_px (scalar or per view [V]) in every one of its
    views; DLT weighted by conf.

    P [V,3,4]; x [V,N,2] undistorted pixels; conf [V,N] in [0,1]."""
    V, N = conf.shape
    thr = np.broadcast_to(np.asarray(max_error_px, float), (V,))[:, None]
    ok = (conf >= min_conf) & np.isfinite(x).all(-1)
    if allowed is not None:
        ok &= np.asarray(allowed, bool)[:, None]
    best_pts = np.full((N, 3), np.nan)
    best_views = np.zeros((N, V), bool)
    best_size = np.zeros(N, int)
    best_err = np.full(N, np.inf)
    for k in range(V, 1, -1):
        for sub in itertools.combinations(range(V), k):
            m = np.zeros(V, bool)
            m[list(sub)] = True
            use = ok & m[:, None]                                   # [V,N]
            full = use.sum(0) == k
            if not full.any():
                continue
            X = triangulate(P, x, np.where(use, conf, 0.0))
            err = np.linalg.norm(project(P, X) - x, axis=-1)        # [V,N]
            fits = ~(use & ~(err <= thr)).any(0)
            mean = np.where(use, err, 0.0).sum(0) / k
            better = full & fits & ((k > best_size) | ((k == best_size) & (mean < best_err)))
            best_pts[better] = X[better]
            best_views[better] = use.T[better]
            best_size[better] = k
            best_err[better] = mean[better]
    ok_pts = np.isfinite(best_pts).all(-1)
    err = np.full((V, N), np.nan)
    if ok_pts.any():
        e = np.linalg.norm(project(P, best_pts[ok_pts]) - x[:, ok_pts], axis=-1)
        err[:, ok_pts] = np.where(np.isfinite(x[:, ok_pts]).all(-1), e, np.nan)
    return Triangulation(best_pts, best_views, err.T)
