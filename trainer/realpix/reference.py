"""The 3D reference of the real-pixel split: the target person's 33 landmarks triangulated from
the product detector's 2D in all calibrated views, per frame.

Person choice: per frame, every assignment of one detected person (or none) per view is
triangulated on left/right-symmetric points (mid-shoulder, mid-hip, mid-knee, mid-ankle: a
left/right swap or one misplaced limb in a view does not make the person disagree); the
assignment in which the most views agree (median reprojection error under `agree` x that
person's box height) wins, ties by the lower error. The
force-plate walker is seen by all four views; the bystander of cam01/02 by two at most.

Left/right: MediaPipe sometimes labels a whole side the wrong way round in one view (cam02 of the
demo: a front view seen as a back view, about a quarter of its frames). Per frame, view and group
(arms with shoulders and hands, legs with hips and feet, face), the view's labels are mirrored
for the reference when the mirror reprojects under half the error of the labels as given,
measured against the triangulation from the other views. The monocular input keeps the
detector's labels as they are.

Landmarks: `robust_triangulate` on undistorted pixels with per-view thresholds `max_error` x the
person's box height. Leave-one-view-out references (the same, without view v) are kept: view v
is evaluated against the reference that does not use its own detections.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from metahmr_trainer.realpix.data import Camera
from metahmr_trainer.realpix.detections import ViewDetections
from metahmr_trainer.realpix.joints import standard_from_landmarks
from metahmr_trainer.realpix.triangulate import Triangulation, project, robust_triangulate, triangulate, undistort

BODY = list(range(11, 17)) + list(range(23, 29))  # shoulders, elbows, wrists, hips, knees, ankles
_MID_PAIRS = [(11, 12), (23, 24), (25, 26), (27, 28)]  # shoulders, hips, knees, ankles


def _midpoints(a: np.ndarray) -> np.ndarray:
    """[..., 33, C] -> [..., 4, C] means of the left/right pairs (pixels or confidences)."""
    l, r = [p[0] for p in _MID_PAIRS], [p[1] for p in _MID_PAIRS]
    return 0.5 * (a[..., l, :] + a[..., r, :])


@dataclass
class Reference:
    """landmarks [F,33,3] world metres (NaN: no consistent views); views [F,33,V] bool views
    used; error_px [F,33,V] reprojection errors (undistorted pixels); loo [V,F,33,3] the
    landmarks triangulated without view v; person [F,V] the detection index used per view (-1:
    none); box_height [F,V] pixels of the chosen person; mirrored [F,V,3] whether the view's
    (arms, legs, face) labels were mirrored for the reference."""

    landmarks: np.ndarray
    views: np.ndarray
    error_px: np.ndarray
    loo: np.ndarray
    person: np.ndarray
    box_height: np.ndarray
    mirrored: np.ndarray

    def joints(self, view: int | None = None) -> np.ndarray:
        """[F,15,3] standard joints (world metres) from all views, or without `view`."""
        return standard_from_landmarks(self.landmarks if view is None else self.loo[view])

    def uncertainty(self) -> dict:
        """The reference's own spread: leave-one-view-out vs all views (mm, per standard joint and
        mean, and per left-out view) and the reprojection error in pixels (used views)."""
        from metahmr_video.core.layout import STANDARD_JOINTS

        full = self.joints()
        d = np.stack([np.linalg.norm(self.joints(v) - full, axis=-1) * 1000 for v in range(len(self.loo))])  # [V,F,15]
        e = np.where(self.views, self.error_px, np.nan)
        per_joint = np.nanmean(d, axis=(0, 1))
        return {
            "loo_vs_all_mm_mean": round(float(np.nanmean(d)), 1),
            "loo_vs_all_mm_median": round(float(np.nanmedian(d)), 1),
            "loo_vs_all_mm_per_joint": {n: round(float(v), 1) for n, v in zip(STANDARD_JOINTS, per_joint)},
            "loo_vs_all_mm_per_left_out_view": [round(float(np.nanmean(d[v])), 1) for v in range(len(d))],
            "reprojection_px_mean": round(float(np.nanmean(e[:, BODY])), 1),
            "reprojection_px_median": round(float(np.nanmedian(e[:, BODY])), 1),
            "views_used_mean": round(float(self.views[:, BODY].sum(-1).mean()), 2),
            "body_landmarks_triangulated": round(float(np.isfinite(self.landmarks[:, BODY, 0]).mean()), 3),
            "mirrored_frames_per_view_arms_legs_face": self.mirrored.sum(0).tolist(),
            "segment_length_sd_over_frames_mm": self.segment_spread(),
        }

    def segment_spread(self) -> dict:
        """A check that needs no truth: the standard deviation over frames of each limb segment's
        length (a rigid bone should not change; mm), left and right pooled."""
        out = {}
        for name, (a, b) in {"upper_arm": (11, 13), "forearm": (13, 15), "thigh": (23, 25), "shin": (25, 27)}.items():
            sds = [np.nanstd(np.linalg.norm(self.landmarks[:, i] - self.landmarks[:, j], axis=-1)) * 1000
                   for i, j in ((a, b), (a + 1, b + 1))]
            out[name] = round(float(np.mean(sds)), 1)
        return out


def undistorted_views(dets: list[ViewDetections], cams: list[Camera]) -> list[np.ndarray]:
    """Per view [F,M,33,2] undistorted pixels of every detected person."""
    return [undistort(d.keypoints2d, c.K, c.dist) for d, c in zip(dets, cams)]


def _box_height(d: ViewDetections) -> np.ndarray:
    return np.nan_to_num(d.boxes[..., 3] - d.boxes[..., 1], nan=0.0)  # [F,M]


def choose_person(dets: list[ViewDetections], cams: list[Camera], agree: float = 0.05, min_conf: float = 0.5,
                  per_view: int = 3) -> np.ndarray:
    """[F,V] detection index of the person most views agree on (-1 where a view has none)."""
    P = np.stack([c.P for c in cams])
    xs = undistorted_views(dets, cams)
    V, F = len(dets), len(dets[0].count)
    out = np.full((F, V), -1)
    for f in range(F):
        options = []
        for v, d in enumerate(dets):
            h = _box_height(d)[f, :d.count[f]]
            options.append([-1] + list(np.argsort(-h)[:per_view]))
        best = (0, np.inf, None)
        for pick in itertools.product(*options):
            used = [v for v in range(V) if pick[v] >= 0]
            if len(used) < 2:
                continue
            x = np.stack([_midpoints(xs[v][f, pick[v]]) if pick[v] >= 0 else np.full((4, 2), np.nan) for v in range(V)])
            conf = np.stack([_midpoints(dets[v].conf[f, pick[v]][:, None])[:, 0] if pick[v] >= 0 else np.zeros(4)
                             for v in range(V)])
            w = np.where((conf >= min_conf) & np.isfinite(x).all(-1), conf, 0.0)
            X = triangulate(P, x, w)
            if not np.isfinite(X).any():
                continue
            err = np.linalg.norm(project(P, X) - x, axis=-1)                      # [V, 4]
            rel = np.array([np.nanmedian(err[v]) / max(_box_height(dets[v])[f, pick[v]], 1.0) for v in used])
            score = (int((rel < agree).sum()), -float(np.nanmean(rel)))
            if best[2] is None or score > best[:2]:
                best = (*score, pick)
        if best[2] is not None and best[0] >= 2:
            out[f] = best[2]
    return out


def _groups() -> list[np.ndarray]:
    arms = list(range(11, 23))
    legs = list(range(23, 33))
    face = list(range(1, 11))
    return [np.array(g) for g in (arms, legs, face)]


def mirror_labels(P: np.ndarray, x: np.ndarray, conf: np.ndarray, thr: np.ndarray, min_conf: float = 0.5,
                  gain: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a view's left/right labels per group where the mirror fits the other views'
    triangulation under `gain` x the error of the labels as given. x [V,33,2], conf [V,33];
    returns (x, conf, mirrored [V,3] bool)."""
    from metahmr_video.core.layout import MEDIAPIPE_33, mirror_index

    mir = np.array(mirror_index(MEDIAPIPE_33))
    V = len(x)
    x, conf = x.copy(), conf.copy()
    flips = np.zeros((V, 3), bool)
    for v in range(V):
        others = robust_triangulate(P, x, conf, thr, min_conf, allowed=np.arange(V) != v).points
        px = project(P[v:v + 1], others)[0]
        for g, idx in enumerate(_groups()):
            as_is = np.nanmean(np.linalg.norm(px[idx] - x[v, idx], axis=-1))
            swapped = np.nanmean(np.linalg.norm(px[idx] - x[v, mir[idx]], axis=-1))
            if swapped < gain * as_is:
                x[v, idx], conf[v, idx] = x[v, mir[idx]], conf[v, mir[idx]]
                flips[v, g] = True
    return x, conf, flips


def build_reference(dets: list[ViewDetections], cams: list[Camera], max_error: float = 0.05,
                    min_conf: float = 0.5) -> Reference:
    """Triangulate the chosen person's landmarks per frame (all views, and leaving each out)."""
    person = choose_person(dets, cams, min_conf=min_conf)
    P = np.stack([c.P for c in cams])
    xs = undistorted_views(dets, cams)
    V, F = len(dets), len(person)
    lm = np.full((F, 33, 3), np.nan)
    views = np.zeros((F, 33, V), bool)
    err = np.full((F, 33, V), np.nan)
    loo = np.full((V, F, 33, 3), np.nan)
    height = np.zeros((F, V))
    mirrored = np.zeros((F, V, 3), bool)
    for f in range(F):
        sel = person[f]
        x = np.stack([xs[v][f, sel[v]] if sel[v] >= 0 else np.full((33, 2), np.nan) for v in range(V)])
        conf = np.stack([dets[v].conf[f, sel[v]] if sel[v] >= 0 else np.zeros(33) for v in range(V)])
        height[f] = [_box_height(dets[v])[f, sel[v]] if sel[v] >= 0 else 0.0 for v in range(V)]
        thr = max_error * np.maximum(height[f], 1.0)
        x, conf, mirrored[f] = mirror_labels(P, x, conf, thr, min_conf)
        tri: Triangulation = robust_triangulate(P, x, conf, thr, min_conf)
        lm[f], views[f], err[f] = tri.points, tri.views, tri.error_px
        for v in range(V):
            loo[v, f] = robust_triangulate(P, x, conf, thr, min_conf, allowed=np.arange(V) != v).points
    return Reference(lm, views, err, loo, person, height, mirrored)
