"""The up direction and focal length of a static camera from straight edges in its images (OpenCV's
line segment detector): walls, doors, windows and poles are vertical, and their images meet in one
point whose back-projection is the world's up in camera coordinates; given the bodies' mean up as
a prior, `vertical_direction` picks the vanishing point near it (the horizontal ones compete
otherwise). Floors, walls and windows also run along two horizontal directions, whose vanishing
points give the up as the direction orthogonal to both (`up_from_horizontals`); three orthogonal
vanishing points give the focal (`focal_from_vanishing_points`)."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

MIN_SUPPORT = 10  # lines through an up implied by the horizontal vanishing points for it to count (E72)


def line_segments(gray: np.ndarray, min_length: float = 0.03) -> np.ndarray:
    """Segments of a uint8 image longer than `min_length` x its height, [N,4] (x1, y1, x2, y2), pixels."""
    segments = cv2.createLineSegmentDetector().detect(gray)[0]
    if segments is None:
        return np.zeros((0, 4))
    s = segments[:, 0].astype(np.float64)
    return s[np.linalg.norm(s[:, 2:] - s[:, :2], axis=1) > min_length * gray.shape[0]]


def segment_planes(segments: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N,4] segments (pixels) -> the unit normals of the planes through each and the camera centre
    ([N,3], camera frame) and their lengths ([N] pixels)."""
    s = np.asarray(segments, np.float64).reshape(-1, 4)
    kinv = np.linalg.inv(K)
    a = np.c_[s[:, :2], np.ones(len(s))] @ kinv.T
    b = np.c_[s[:, 2:], np.ones(len(s))] @ kinv.T
    n = np.cross(a, b)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n, np.linalg.norm(s[:, 2:] - s[:, :2], axis=1)


def line_planes(gray: np.ndarray, K: np.ndarray, min_length: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Segments of a uint8 image longer than `min_length` x its height, each as the unit normal of
    the plane through it and the camera centre ([N,3], camera frame) and its length ([N] pixels)."""
    return segment_planes(line_segments(gray, min_length), K)


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


def _vanishing_point(normals: np.ndarray, lengths: np.ndarray, keep: np.ndarray, far_from: np.ndarray,
                     max_off: float, inlier: float, tries: int, rng: np.random.Generator,
                     focal_of: Callable[[np.ndarray], float | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """The direction most `keep` lines' planes contain (length-weighted RANSAC over pairs, then a
    least-squares refit), at least `max_off` (radians) from `far_from` and giving a focal
    (`focal_of(v)` not None); returns it and its inliers [N] bool, or None."""
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return None
    w = lengths[idx] / lengths[idx].sum()
    pairs = idx[rng.choice(len(idx), size=(tries, 2), p=w)]
    v = np.cross(normals[pairs[:, 0]], normals[pairs[:, 1]])
    norm = np.linalg.norm(v, axis=1)
    v = v[norm > 1e-6] / norm[norm > 1e-6, None]
    v = v[np.abs(v @ far_from) < np.cos(max_off)]
    v = v[[focal_of(h) is not None for h in v]] if len(v) else v
    if not len(v):
        return None
    inliers = (np.abs(normals @ v.T) < np.sin(inlier)) & keep[:, None]
    refit = v[np.argmax(lengths @ inliers)]
    for threshold in (inlier, inlier / 2):  # refit to the inliers, then to the closer ones
        best = (np.abs(normals @ refit) < np.sin(threshold)) & keep
        if best.sum() < 2:
            break
        n = normals[best]
        d = np.linalg.eigh((n * lengths[best, None]).T @ n)[1][:, 0]
        if focal_of(d) is None or abs(d @ far_from) >= np.cos(max_off):
            break
        refit = d
    return refit, (np.abs(normals @ refit) < np.sin(inlier)) & keep


def focal_from_vanishing_points(segments_or_gray: np.ndarray, size: tuple[int, int], up_prior: np.ndarray | None = None,
                                prior_focal: float | None = None, max_up_off_deg: float = 40.0,
                                inlier_deg: float = 1.0, focal_range: tuple[float, float] = (0.3, 3.0),
                                agree: float = 0.08, min_lines: int = 6, tries: int = 2000,
                                seed: int = 0) -> float | None:
    """The focal length (pixels) of a camera with square pixels and its principal point at the image
    centre, from the vanishing points of three orthogonal 3D directions in its straight edges: for
    the pixel vanishing points v1, v2 of two orthogonal directions, (v1 - c).(v2 - c) + f^2 = 0.

    `segments_or_gray`: a uint8 image, or [N,4] segments (x1, y1, x2, y2 pixels, e.g. `line_segments`
    of several frames pooled) of an image of `size` (width, height). The vertical vanishing point is
    the one within `max_up_off_deg` of `up_prior` (the world's up in camera coordinates under the
    focal `prior_focal`; default: the image's up, under the image diagonal), then come the two best
    supported others (horizontal directions). The three pairs each give a focal; their mean when all
    three exist, lie within `focal_range` x the image diagonal and agree within `agree` (max / min -
    1). A wrong vertical point biases the two focals it is part of alike: when only those disagree,
    the two horizontals' focal, if the up they imply under it is near the prior and has the lines'
    support (`MIN_SUPPORT`, E72); else None."""
    s = np.asarray(segments_or_gray)
    s = line_segments(s) if s.dtype == np.uint8 else s.astype(np.float64).reshape(-1, 4)
    f, points = _orthogonal_focals(s, size, up_prior, prior_focal, max_up_off_deg, inlier_deg, focal_range, min_lines,
                                   tries, seed)
    if len(f) < 3:
        return None
    if max(f) <= (1.0 + agree) * min(f):
        return float(np.mean(f))
    w, h = size
    c = np.array([w / 2.0, h / 2.0])
    K = np.array([[f[2], 0.0, c[0]], [0.0, f[2], c[1]], [0.0, 0.0, 1.0]])
    first, second = (np.r_[(p - c) / f[2], 1.0] for p in points)  # the horizontals' directions under their focal
    prior = np.array([0.0, -1.0, 0.0]) if up_prior is None else np.asarray(up_prior, np.float64)
    normals, _ = segment_planes(s, K)
    supported = _supported_up(np.cross(first, second), normals, prior, max_up_off_deg, inlier_deg)
    return None if supported is None else float(f[2])


def _orthogonal_focals(segments: np.ndarray, size: tuple[int, int], up_prior: np.ndarray | None,
                       prior_focal: float | None, max_up_off_deg: float, inlier_deg: float,
                       focal_range: tuple[float, float], min_lines: int, tries: int,
                       seed: int) -> tuple[list[float], list[np.ndarray]]:
    """The focals (pixels) of the vertical and the first horizontal, the vertical and the second
    horizontal, and the two horizontal vanishing points, as far as found and in range (see
    `focal_from_vanishing_points`) from [N,4] `segments` (pixels), and the horizontal vanishing
    points found ([2] pixels each)."""
    w, h = size
    diag = float(np.hypot(w, h))
    K = np.array([[diag, 0.0, w / 2.0], [0.0, diag, h / 2.0], [0.0, 0.0, 1.0]])
    normals, lengths = segment_planes(segments, K)  # a vanishing direction d here is the pixel point c + diag d[:2] / d[2]
    prior = np.array([0.0, -1.0, 0.0]) if up_prior is None else np.asarray(up_prior, np.float64)
    scale = (prior_focal or diag) / diag
    prior = np.array([prior[0] * scale, prior[1] * scale, prior[2]])
    prior /= np.linalg.norm(prior)

    def focal(a: np.ndarray, b: np.ndarray) -> float | None:
        den = a[2] * b[2]
        f2 = -(a[0] * b[0] + a[1] * b[1]) * diag ** 2 / den if abs(den) > 1e-12 else -1.0
        f = float(np.sqrt(f2)) if f2 > 0 else 0.0
        return f if focal_range[0] * diag <= f <= focal_range[1] * diag else None

    up = vertical_direction(normals, lengths, prior, max_off_deg=max_up_off_deg, inlier_deg=inlier_deg,
                            min_lines=min_lines, seed=seed)
    if up is None:
        return [], []
    found = _horizontals(normals, lengths, up, inlier_deg, min_lines, tries, seed, lambda v: focal(up, v))
    estimates = [focal(up, v) for v in found] + ([focal(found[0], found[1])] if len(found) == 2 else [])
    return [f for f in estimates if f is not None], [np.array([w / 2.0, h / 2.0]) + diag * d[:2] / d[2] for d in found]


def _horizontals(normals: np.ndarray, lengths: np.ndarray, up: np.ndarray, inlier_deg: float, min_lines: int,
                 tries: int, seed: int, valid: Callable[[np.ndarray], float | None]) -> list[np.ndarray]:
    """The (up to) two best supported vanishing directions at least 20 degrees from `up` among the
    lines not through it, each with at least `min_lines` lines and `valid` (not None)."""
    rng = np.random.default_rng(seed)
    keep = np.abs(normals @ up) >= np.sin(np.radians(inlier_deg))
    found: list[np.ndarray] = []
    for _ in range(2):
        vp = _vanishing_point(normals, lengths, keep, up, np.radians(20.0), np.radians(inlier_deg), tries, rng, valid)
        if vp is None or vp[1].sum() < min_lines:
            break
        found.append(vp[0])
        keep &= ~vp[1]
    return found


def up_from_horizontals(normals: np.ndarray, lengths: np.ndarray, prior: np.ndarray, max_off_deg: float = 25.0,
                        inlier_deg: float = 1.0, min_lines: int = 6, tries: int = 2000, max_lines: int = 1000,
                        seed: int = 0) -> np.ndarray | None:
    """The world's up (unit, camera frame) as the direction orthogonal to the two best supported
    vanishing directions within `max_off_deg` of horizontal under `prior` (floors, walls, windows:
    rows of edges that meet on the horizon), from the lines' planes `normals` [N,3] (under the
    camera's true intrinsics) and `lengths` [N]. None unless it lies within `max_off_deg` of `prior` and at least
    `MIN_SUPPORT` lines run through it. Few vertical edges, or a wrong set of them, do not move it (E72).
    Only the `max_lines` longest lines are used (the cost grows with their number)."""
    if len(lengths) > max_lines:
        longest = np.argsort(lengths)[-max_lines:]
        normals, lengths = normals[longest], lengths[longest]
    guess = np.asarray(prior, np.float64) / np.linalg.norm(prior)
    found = _horizontals(normals, lengths, guess, inlier_deg, min_lines, tries, seed,
                         lambda v: 1.0 if abs(v @ guess) < np.sin(np.radians(max_off_deg)) else None)
    if len(found) < 2:
        return None
    return _supported_up(np.cross(found[0], found[1]), normals, guess, max_off_deg, inlier_deg)


def _supported_up(direction: np.ndarray, normals: np.ndarray, prior: np.ndarray, max_off_deg: float,
                  inlier_deg: float) -> np.ndarray | None:
    """`direction` as an up (unit, towards `prior`) when it is within `max_off_deg` of `prior` and at
    least `MIN_SUPPORT` of the lines' planes `normals` contain it (within `inlier_deg`); else None."""
    up = direction / np.linalg.norm(direction)
    prior = np.asarray(prior, np.float64) / np.linalg.norm(prior)
    up = up if up @ prior >= 0 else -up
    if up @ prior < np.cos(np.radians(max_off_deg)):
        return None
    return up if (np.abs(normals @ up) < np.sin(np.radians(inlier_deg))).sum() >= MIN_SUPPORT else None
