"""Causal per-track temporal smoothing of PersonBody records (usable live)."""
from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from metahmr_video.records import PersonBody
from metahmr_video.smooth.one_euro import OneEuroFilter
from metahmr_video.smooth.rotation_filter import RotationFilter


@dataclass
class SmootherConfig:
    """One-Euro settings (cutoffs in Hz, betas in s per unit of speed) for rotations (quaternion
    units), the translation's image-plane direction (x/z, y/z: precise, can move fast) and its
    log-depth (noisy, moves slowly), and root-relative joints (metres);
    shape consensus window (frames); a track unseen for more than `max_gap_s` seconds restarts its
    filters (no bridging)."""

    rot_min_cutoff: float = 1.5
    rot_beta: float = 4.0
    ray_min_cutoff: float = 2.0
    ray_beta: float = 5.0
    depth_min_cutoff: float = 0.3
    depth_beta: float = 2.0
    pos_min_cutoff: float = 1.0
    pos_beta: float = 5.0
    shape_window: int = 90
    max_gap_s: float = 0.5


def to_ray_depth(t: np.ndarray) -> np.ndarray:
    """Camera-frame position [3] -> (x/z, y/z, log z): image-plane direction and relative depth, so
    that one filter setting serves people at 2 m and at 20 m (depth noise grows with distance)."""
    z = max(float(t[2]), 1e-3)
    return np.array([t[0] / z, t[1] / z, np.log(z)])


def from_ray_depth(r: np.ndarray) -> np.ndarray:
    z = np.exp(r[2])
    return np.array([r[0] * z, r[1] * z, z], np.float32)


class _TrackState:
    def __init__(self, cfg: SmootherConfig) -> None:
        self.rot = RotationFilter(cfg.rot_min_cutoff, cfg.rot_beta)
        self.ray = OneEuroFilter(cfg.ray_min_cutoff, cfg.ray_beta, speed_norm_axis=-1)
        self.depth = OneEuroFilter(cfg.depth_min_cutoff, cfg.depth_beta)
        self.joints = OneEuroFilter(cfg.pos_min_cutoff, cfg.pos_beta, speed_norm_axis=-1)
        self.keypoints3d = OneEuroFilter(cfg.pos_min_cutoff, cfg.pos_beta, speed_norm_axis=-1)
        self.shapes: deque[np.ndarray] = deque(maxlen=cfg.shape_window)
        self.last_t = -np.inf


class TrackSmoother:
    """Smooths each track on its own: rotations on the quaternion manifold; the translation as
    image-plane direction and log-depth; joints and 3D keypoints relative to the translation (body
    articulation, metres), then moved with the smoothed translation; all with One-Euro filters.
    Shape is the running median of the track's recent shapes (a person does not change build).
    Fallback (diverged) frames do not enter the shape consensus.

    >>> smoother = TrackSmoother()
    >>> smoothed = [smoother(people_of_frame) for people_of_frame in frames]   # list[PersonBody] each
    """

    def __init__(self, config: SmootherConfig | None = None) -> None:
        self.config = config or SmootherConfig()
        self.tracks: dict[int, _TrackState] = {}

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        out = []
        for p in people:
            state = self.tracks.get(p.track_id)
            if state is None or p.time_s - state.last_t > self.config.max_gap_s:
                state = self.tracks[p.track_id] = _TrackState(self.config)
            state.last_t = p.time_s
            if not p.fallback:
                state.shapes.append(p.shape)
            shape = np.median(np.stack(state.shapes), axis=0).astype(np.float32) if state.shapes else p.shape
            ray_depth = to_ray_depth(p.transl)
            transl = from_ray_depth(np.concatenate([state.ray(ray_depth[:2], p.time_s),
                                                     state.depth(ray_depth[2:], p.time_s)]))
            out.append(dataclasses.replace(
                p,
                pose=state.rot(p.pose, p.time_s),
                transl=transl,
                joints=(state.joints(p.joints - p.transl, p.time_s) + transl).astype(np.float32),
                keypoints3d=(state.keypoints3d(p.keypoints3d - p.transl, p.time_s) + transl).astype(np.float32),
                shape=shape,
            ))
        return out

    def reset(self) -> None:
        """Forget every track (next video)."""
        self.tracks.clear()

    def forget(self, track_ids: set[int]) -> None:
        """Drop the state of tracks that ended (keeps memory flat on long streams)."""
        for tid in track_ids:
            self.tracks.pop(tid, None)
