"""Front/back label flips, fixed per track.

The landmark model sometimes reads a person who faces the camera as seen from behind (or the
reverse), for one frame or a short run: every left/right label swaps at once, in the 2D and the
world landmarks alike (the real-pixel clip: 24 of 100 frames of one view). A person cannot turn
half a turn between two frames, so each track runs a two-state forward (Viterbi) recursion over
"labels as given" / "labels swapped". The body's left-right axis (horizontal plane of the world
landmarks) may turn by `max_turn_deg` per frame for free; a turn beyond that by an angle e costs
`turn_cost` x (1 - cos e) / 2 (a half turn: turn_cost), and every swapped frame costs
`swap_cost`. Each frame takes the cheaper state (causal: no look-ahead). A frame whose axis is
more than `ambiguous_deg` away from both labellings' last axes (a sideways reading in the middle
of a front view) says nothing and keeps the current labelling, unless `max_skip` such frames come
in a row (then the axis is taken as it is). A run of swapped labels longer than turn_cost /
swap_cost frames is taken as the truth (a track that starts on a misread frame recovers after
that many frames).

    fix = FacingFilter()
    det = fix(det)          # one track's detections, in time order
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from metahmr_video.core.layout import MEDIAPIPE_33, Landmark, mirror_index
from metahmr_video.core.records import Detection

MIRROR = np.asarray(mirror_index(MEDIAPIPE_33))
_LEFT = [Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP]
_RIGHT = [Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP]


@dataclass(frozen=True)
class FacingConfig:
    """enabled: fix flips at all. turn_cost: cost of a sudden half turn between two frames;
    swap_cost: cost of one frame with swapped labels; max_turn_deg: free turning per frame (12:
    360 degrees per second at 30 fps); ambiguous_deg, max_skip: see the module docstring;
    min_conf: the shoulders and hips must be this confident for a frame to count; min_axis_m: the
    left-right axis in the horizontal plane must be this long (metres, shoulders + hips summed): a
    person seen from the side still qualifies, one lying along the view axis does not."""

    enabled: bool = True
    turn_cost: float = 2.0
    swap_cost: float = 0.05
    max_turn_deg: float = 12.0
    ambiguous_deg: float = 50.0
    max_skip: int = 5
    min_conf: float = 0.5
    min_axis_m: float = 0.1


def swap_sides(det: Detection) -> Detection:
    """The detection with every left/right landmark label exchanged (2D, confidences, world)."""
    def m(a):
        return None if a is None else np.ascontiguousarray(a[MIRROR])
    return replace(det, keypoints2d=m(det.keypoints2d), keypoint_conf=m(det.keypoint_conf),
                   world_landmarks=m(det.world_landmarks), visibility=m(det.visibility), presence=m(det.presence))


def side_axis(det: Detection, cfg: FacingConfig) -> np.ndarray | None:
    """Unit left-right axis of the body (left minus right shoulders and hips) in the horizontal
    (x, z) plane of the world landmarks, or None when the frame cannot tell."""
    w = det.world_landmarks
    if w is None or np.min(det.keypoint_conf[_LEFT + _RIGHT]) < cfg.min_conf:
        return None
    a = (w[_LEFT] - w[_RIGHT]).sum(0)[[0, 2]].astype(np.float64)
    n = float(np.linalg.norm(a))
    return a / n if n >= cfg.min_axis_m and np.isfinite(n) else None


class FacingFilter:
    """One track's label-flip filter (see the module docstring)."""

    def __init__(self, config: FacingConfig | None = None) -> None:
        self.config = config or FacingConfig()
        self.cost = np.array([0.0, self.config.swap_cost])  # forward cost of (as given, swapped)
        self.axis: np.ndarray | None = None                # last counted axis, labels as given
        self.frames = 0                                    # frames since it was counted
        self.swapped = False

    def _turn(self, angle: float) -> float:
        """Cost of turning the axis by `angle` radians over `self.frames` frames."""
        cfg = self.config
        excess = max(angle - np.radians(cfg.max_turn_deg) * self.frames, 0.0)
        return cfg.turn_cost * (1 - np.cos(excess)) / 2

    def __call__(self, det: Detection) -> Detection:
        cfg = self.config
        if not cfg.enabled:
            return det
        a = side_axis(det, cfg)
        self.frames += 1
        if a is not None and self.axis is None:
            self.axis, self.frames = a, 0
        elif a is not None:
            angle = float(np.arccos(np.clip(a @ self.axis, -1.0, 1.0)))  # to state 0's last axis
            near = min(angle, np.pi - angle)
            if near <= np.radians(cfg.ambiguous_deg) + np.radians(cfg.max_turn_deg) * self.frames or self.frames > cfg.max_skip:
                stay, turn = self._turn(angle), self._turn(np.pi - angle)
                # state 0 sees axis a, state 1 sees -a; before, they saw axis and -axis
                new = np.array([min(self.cost[0] + stay, self.cost[1] + turn),
                                min(self.cost[0] + turn, self.cost[1] + stay) + cfg.swap_cost])
                self.cost = new - new.min()
                self.swapped = bool(self.cost[1] < self.cost[0])
                self.axis, self.frames = a, 0
        return swap_sides(det) if self.swapped else det
