"""Causal per-track temporal smoothing of PersonBody records (usable live)."""
from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from metahmr_video.core.layout import Landmark
from metahmr_video.core.records import PersonBody
from metahmr_video.smooth.one_euro import OneEuroFilter
from metahmr_video.smooth.rotation_filter import RotationFilter

# The landmarks every keypoint layout has (limbs and torso): visible evidence is counted on them.
BODY_LANDMARKS = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_ELBOW, Landmark.RIGHT_ELBOW,
                  Landmark.LEFT_WRIST, Landmark.RIGHT_WRIST, Landmark.LEFT_HIP, Landmark.RIGHT_HIP,
                  Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE, Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE]


@dataclass(frozen=True)
class SmootherConfig:
    """One-Euro settings (cutoffs in Hz, betas in s per unit of speed) for rotations (quaternion
    units), the translation's image-plane direction (x/z, y/z: precise, can move fast) and its
    log-depth (noisy, moves slowly), and root-relative joints (metres); `lead` / `depth_lead`: the
    fraction of the filters' lag taken back by a constant-velocity correction (0 = plain One-Euro;
    depth gets none: its noise would come back, and the image position does not depend on it);
    shape consensus window (frames); a track unseen for more than `max_gap_s` seconds restarts its
    filters (no bridging).

    Physical limits against partial evidence (a person half hidden behind a pole is fitted as a
    small, far body): a frame's evidence is the fraction of body landmarks seen (confidence >=
    `visible_conf`) relative to the track's median; at `partial_ratio` or less the frame counts for
    nothing, from `full_ratio` on fully, in between linearly (its weight in every filter; shape
    consensus takes frames of weight >= 0.5). A depth more than `depth_gate` (log units) from the
    filtered one is an outlier and the frame is bridged (weight 0), unless outliers persist for
    `outlier_max_s` seconds (then the depth filter restarts there). The smoothed root never moves
    faster than `max_speed` (metres per second) between two outputs of a track, also across a gap.
    `full_ratio` <= `partial_ratio`, `depth_gate` = `max_speed` = inf: all off."""

    rot_min_cutoff: float = 1.5
    rot_beta: float = 2.0
    ray_min_cutoff: float = 1.0
    ray_beta: float = 5.0
    depth_min_cutoff: float = 0.3
    depth_beta: float = 0.5
    pos_min_cutoff: float = 1.0
    pos_beta: float = 2.0
    lead: float = 1.0
    depth_lead: float = 0.0
    shape_window: int = 90
    max_gap_s: float = 0.5
    visible_conf: float = 0.5
    partial_ratio: float = 0.5
    full_ratio: float = 0.85
    depth_gate: float = 0.25
    outlier_max_s: float = 0.3
    max_speed: float = 5.0


def to_ray_depth(t: np.ndarray) -> np.ndarray:
    """Camera-frame position [3] -> (x/z, y/z, log z): image-plane direction and relative depth, so
    that one filter setting serves people at 2 m and at 20 m (depth noise grows with distance)."""
    z = max(float(t[2]), 1e-3)
    return np.array([t[0] / z, t[1] / z, np.log(z)])


def from_ray_depth(r: np.ndarray) -> np.ndarray:
    z = np.exp(r[2])
    return np.array([r[0] * z, r[1] * z, z], np.float32)


def visible_fraction(keypoint_conf: np.ndarray, min_conf: float = 0.5) -> float:
    """Fraction of the 12 body landmarks (shoulders ... ankles) seen with confidence >= min_conf."""
    return float((np.asarray(keypoint_conf)[BODY_LANDMARKS] >= min_conf).mean())


class _TrackState:
    def __init__(self, cfg: SmootherConfig) -> None:
        self.rot = RotationFilter(cfg.rot_min_cutoff, cfg.rot_beta, lead=cfg.lead)
        self.ray = OneEuroFilter(cfg.ray_min_cutoff, cfg.ray_beta, speed_norm_axis=-1, lead=cfg.lead)
        self.depth = OneEuroFilter(cfg.depth_min_cutoff, cfg.depth_beta, lead=cfg.depth_lead)
        self.joints = OneEuroFilter(cfg.pos_min_cutoff, cfg.pos_beta, speed_norm_axis=-1, lead=cfg.lead)
        self.keypoints3d = OneEuroFilter(cfg.pos_min_cutoff, cfg.pos_beta, speed_norm_axis=-1, lead=cfg.lead)
        self.shapes: deque[np.ndarray] = deque(maxlen=cfg.shape_window)
        self.visible: deque[float] = deque(maxlen=cfg.shape_window)
        self.last_t = -np.inf
        self.last_transl: np.ndarray | None = None
        self.outlier_since: float | None = None


class TrackSmoother:
    """Smooths each track on its own: rotations on the quaternion manifold; the translation as
    image-plane direction and log-depth; joints and 3D keypoints relative to the translation (body
    articulation, metres), then moved with the smoothed translation; all with One-Euro filters.
    Shape is the running median of the track's recent shapes (a person does not change build).
    Fallback (diverged) frames do not enter the shape consensus. Partial evidence counts less,
    depth outliers are bridged and the root moves no faster than a person can (`SmootherConfig`).

    `points=False` leaves joints and 3D keypoints as they come, for a pipeline that poses the body
    from the smoothed parameters afterwards (`BodyPoser` replaces them: filtering them is wasted).

    >>> smoother = TrackSmoother()
    >>> smoothed = [smoother(people_of_frame) for people_of_frame in frames]   # list[PersonBody] each
    """

    def __init__(self, config: SmootherConfig | None = None, points: bool = True) -> None:
        self.config = config or SmootherConfig()
        self.points = bool(points)
        self.tracks: dict[int, _TrackState] = {}

    def _weight(self, state: _TrackState, p: PersonBody, log_depth: float) -> float:
        """How much this frame counts in [0, 1]: its visible evidence against the track's usual,
        0 for a depth outlier (updates the state's outlier clock)."""
        c = self.config
        seen = visible_fraction(p.keypoint_conf, c.visible_conf)
        state.visible.append(seen)
        usual = float(np.median(state.visible))
        ratio = seen / usual if usual > 0 else 1.0  # no landmark ever confident: nothing to compare
        weight = 1.0
        if c.full_ratio > c.partial_ratio:
            weight = float(np.clip((ratio - c.partial_ratio) / (c.full_ratio - c.partial_ratio), 0.0, 1.0))
        if state.depth.x is None or abs(log_depth - float(state.depth.x[0])) <= c.depth_gate:
            state.outlier_since = None
            return weight
        if state.outlier_since is None:
            state.outlier_since = p.time_s
        if p.time_s - state.outlier_since < c.outlier_max_s:
            return 0.0
        state.depth.reset()  # the depth really changed (or was wrong): start again from here
        state.outlier_since = None
        return weight

    def _bounded(self, state: _TrackState, ray: np.ndarray, depth: float, t: float) -> np.ndarray:
        """The translation (metres) at image direction `ray` (x/z, y/z) and `depth`, moved from the
        track's last output no faster than `max_speed`: depth is limited first (the image position
        is the precise part), then the whole step."""
        if state.last_transl is None:
            return from_ray_depth(np.array([ray[0], ray[1], np.log(depth)]))
        limit = self.config.max_speed * max(t - state.last_t, 0.0)
        last = state.last_transl.astype(np.float64)
        depth = float(np.clip(depth, last[2] - limit, last[2] + limit))
        transl = np.array([ray[0] * depth, ray[1] * depth, depth])
        step = transl - last
        norm = float(np.linalg.norm(step))
        if norm > limit:
            transl = last + step * (limit / norm)
        return transl.astype(np.float32)

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        out = []
        c = self.config
        for p in people:
            state = self.tracks.get(p.track_id)
            if state is None or p.time_s - state.last_t > c.max_gap_s:
                last = None if state is None else (state.last_t, state.last_transl)
                state = self.tracks[p.track_id] = _TrackState(c)
                if last is not None:
                    state.last_t, state.last_transl = last
            ray_depth = to_ray_depth(p.transl)
            w = self._weight(state, p, float(ray_depth[2]))
            if not p.fallback and w >= 0.5:
                state.shapes.append(p.shape)
            shape = np.median(np.stack(state.shapes), axis=0).astype(np.float32) if state.shapes else p.shape
            ray = state.ray(ray_depth[:2], p.time_s, w)
            depth = float(np.exp(state.depth(ray_depth[2:], p.time_s, w)[0]))
            transl = self._bounded(state, ray, depth, p.time_s)
            state.last_t, state.last_transl = p.time_s, transl
            points = {}
            if self.points:  # articulation filtered relative to the root, then moved with the smoothed root
                points = dict(joints=(state.joints(p.joints - p.transl, p.time_s, w) + transl).astype(np.float32),
                              keypoints3d=(state.keypoints3d(p.keypoints3d - p.transl, p.time_s, w)
                                           + transl).astype(np.float32))
            out.append(dataclasses.replace(p, pose=state.rot(p.pose, p.time_s, w), transl=transl, shape=shape,
                                           **points))
        return out

    def reset(self) -> None:
        """Forget every track (next video)."""
        self.tracks.clear()

    def forget(self, track_ids: set[int]) -> None:
        """Drop the state of tracks that ended (keeps memory flat on long streams)."""
        for tid in track_ids:
            self.tracks.pop(tid, None)
