"""The ground plane and the camera's height, pitch and roll from the people themselves.

Evidence, per person-frame (camera frame, metres): the body's up direction (mid-ankle to
mid-shoulder) and its support point, the lowest of its heel and toe keypoints along that up. For a
static camera the support points of people standing or walking lie on the ground; their plane is
fitted with the bodies' mean up as a prior (it fixes the directions the support points do not
span: one person standing still, or walking along a line), trimming support points above the
plane (jumps, feet in swing); each support point weighs 1 / depth^2 (a far person's depth, hence
feet, is the least sure). A monocular body's size is known only up to its own error, which scales
all its frames about the camera and puts that person's ground higher or lower by the same
fraction of the camera's height, wherever they stand: so the camera's height is the weighted
median of the people's own (a person weighs what their support points weigh)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metahmr_video.core.layout import Landmark
from metahmr_video.world.frame import WorldFrame

HEELS_TOES = [Landmark.LEFT_HEEL, Landmark.LEFT_FOOT_INDEX, Landmark.RIGHT_HEEL, Landmark.RIGHT_FOOT_INDEX]
_SHOULDERS = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER]
_ANKLES = [Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE]


@dataclass(frozen=True)
class GroundConfig:
    """sole_m: height of the heel/toe keypoints above the floor when the foot is flat (metres).
    prior_weight: how many metres^2 of support-point scatter per person-frame the bodies' mean up
    is worth against a tilt of one radian (the larger, the more the up prior decides). upright_deg:
    person-frames whose up is further than this from the mean up are not used (lying, bending).
    trim_m: support points further than this above the fitted plane are dropped (the last of a
    shrinking series). min_frames: fewer usable person-frames give no world."""

    sole_m: float = 0.03
    prior_weight: float = 0.01
    upright_deg: float = 25.0
    trim_m: float = 0.06
    min_frames: int = 5


def body_evidence(keypoints3d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N,33,3] camera-frame keypoints -> (ups [N,3] unit mid-ankle -> mid-shoulder directions,
    supports [N,3] each body's lowest heel/toe keypoint along its own up), metres."""
    k = np.asarray(keypoints3d, np.float64)
    up = k[:, _SHOULDERS].mean(1) - k[:, _ANKLES].mean(1)
    up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    feet = k[:, HEELS_TOES]
    low = np.argmin(np.einsum("nkc,nc->nk", feet, up), axis=1)
    return up, feet[np.arange(len(k)), low]


def _plane(points: np.ndarray, weights: np.ndarray, prior: np.ndarray, weight: float,
           people: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit normal n (towards `prior`) of the plane minimising the `weights`-weighted squared
    distances of `points` plus weight * sum(weights) * sin^2(angle(n, prior)), and each person's
    offset along it (`people` [N] ids): returns n, the ids k, d_k (their points' weighted mean of
    n.p) and their points' share of the weights."""
    w = weights / weights.sum()
    q = points - w @ points
    m = (q * w[:, None]).T @ q + weight * (np.eye(3) - np.outer(prior, prior))
    n = np.linalg.eigh(m)[1][:, 0]
    n = n if n @ prior >= 0 else -n
    ids, inverse = np.unique(people, return_inverse=True)
    mass = np.bincount(inverse, w, len(ids))
    return n, ids, np.bincount(inverse, w * (points @ n), len(ids)) / mass, mass


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def mean_up(ups: np.ndarray, config: GroundConfig = GroundConfig()) -> np.ndarray | None:
    """The mean of the upright bodies' ups [N,3] (unit, camera frame), iterated so that bodies
    further than `config.upright_deg` from it do not count; None without enough upright bodies."""
    ups = ups[np.isfinite(ups).all(1)]
    if len(ups) < config.min_frames:
        return None
    prior = ups.mean(0)
    for _ in range(3):
        prior /= np.linalg.norm(prior)
        upright = ups @ prior >= np.cos(np.radians(config.upright_deg))
        if upright.sum() < config.min_frames:
            return None
        prior = ups[upright].mean(0)
    return prior / np.linalg.norm(prior)


def fit_ground(ups: np.ndarray, supports: np.ndarray, config: GroundConfig = GroundConfig(),
               up: np.ndarray | None = None, up_weight: float | None = None,
               people: np.ndarray | None = None) -> WorldFrame | None:
    """The WorldFrame of a static camera from per person-frame `ups` [N,3] and `supports` [N,3]
    (camera frame, metres; `body_evidence`) and `people` [N], whose each point is (e.g. track ids;
    None: all one person's). `up` (unit, camera frame; e.g. from the image's vertical edges) replaces the
    bodies' mean up as the prior on the plane's normal, with the weight `up_weight` (as
    `config.prior_weight`; None: the normal is `up`). None with fewer than `config.min_frames`
    usable person-frames."""
    people = np.zeros(len(ups), np.int64) if people is None else np.asarray(people)
    ok = np.isfinite(ups).all(1) & np.isfinite(supports).all(1)
    ups, supports, people = ups[ok], supports[ok], people[ok]
    if len(ups) < config.min_frames:
        return None
    prior = mean_up(ups, config) if up is None else np.asarray(up, np.float64) / np.linalg.norm(up)
    if prior is None:
        return None
    weight = config.prior_weight if up is None else 1e9 if up_weight is None else up_weight
    upright = ups @ prior >= np.cos(np.radians(config.upright_deg))
    pts, people = supports[upright], people[upright]
    if len(pts) < config.min_frames:
        return None
    # A monocular depth's error grows with the distance: a far person's feet count less (1 / z^2).
    w = 1.0 / np.maximum(pts[:, 2], 0.5) ** 2
    keep = np.ones(len(pts), bool)
    for trim in (0.3, 0.15, config.trim_m):
        n, ids, _, _ = _plane(pts[keep], w[keep], prior, weight, people[keep])
        own = np.full(len(pts), np.nan)  # each support point's height over its own person's plane
        for k in ids:
            mine = keep & (people == k)
            own[people == k] = pts[people == k] @ n - _weighted_median(pts[mine] @ n, w[mine])
        keep = own < trim  # NaN (a person whose points are all trimmed) compares False
        if keep.sum() < config.min_frames:
            return None
    n, _, d, mass = _plane(pts[keep], w[keep], prior, weight, people[keep])
    return WorldFrame(up=n, height_m=config.sole_m - _weighted_median(d, mass))
