"""A static camera's world, estimated as a video goes on, and a track's motion in it.

`WorldEstimator.observe` takes every frame with its people (a sink's view, so it runs live too):
the bodies' ups and support points each frame, and every `lines_every_s` seconds a look at the
image at half size: has the background moved since the last look, and (the first
`max_line_frames` looks) its straight edges. `estimate` gives the current `WorldFrame`: the
up from the horizontal vanishing points when the focal is known and they are found, else from the
vertical edges near the bodies' mean up when there are enough, else from the bodies and their
support points; the camera's height from the support points."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.world.feet import ANKLES, FEET, KNEES, FeetConfig, foot_contacts, lock_offsets, planting_scale
from metahmr_video.world.frame import WorldFrame
from metahmr_video.world.ground import GroundConfig, body_evidence, fit_ground, mean_up
from metahmr_video.world.legs import Leg, bend_legs
from metahmr_video.world.lines import (focal_from_vanishing_points, line_planes, line_segments, up_from_horizontals,
                                       vertical_direction)


@dataclass(frozen=True)
class WorldConfig:
    """enabled: estimate a world and write world-frame results (`joints_world`, `transl_world`,
    `contacts`, meta `camera_to_world`). lines: use the image's straight edges for the up.
    horizontals: with a known focal, the up is the direction orthogonal to the two strongest
    horizontal vanishing directions (`lines.up_from_horizontals`, E72) when they are found, else
    the vertical edges'.
    moving_px: the background's median motion between two looks, as a fraction of the image
    width, from which the camera counts as moving (the world then stays the one of the frames
    before). focal_from_edges: when no focal is given (`adapt.focal`), a video's focal length comes
    from its first frame's straight edges (three orthogonal vanishing points,
    `lines.focal_from_vanishing_points`) where they agree, else the image diagonal.
    guessed_focal_weight: with a guessed focal (the image diagonal) the vertical edges' up, which
    the focal tilts, is only a prior on the ground of the people's feet, of this weight
    (`GroundConfig.prior_weight`'s units; E45); with a known one it is the up."""

    enabled: bool = True
    focal_from_edges: bool = True
    lines: bool = True
    horizontals: bool = True
    guessed_focal_weight: float = 1.0
    lines_every_s: float = 1.0
    max_line_frames: int = 10
    moving_px: float = 0.01
    ground: GroundConfig = field(default_factory=GroundConfig)
    feet: FeetConfig = field(default_factory=FeetConfig)


def focal_from_edges(image: np.ndarray) -> float | None:
    """The focal length (pixels) of the camera that took `image` (RGB uint8) from its straight edges,
    found at half size; None when three orthogonal vanishing points do not agree."""
    gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    f = focal_from_vanishing_points(line_segments(gray), (gray.shape[1], gray.shape[0]))
    return None if f is None else 2.0 * f


def background_motion(previous: np.ndarray, current: np.ndarray, people: list[np.ndarray]) -> float | None:
    """Median displacement (pixels) of corners tracked (Lucas-Kanade) from `previous` to `current`
    (uint8 gray images) outside the `people` boxes ([4] xyxy, those images' pixels); None when
    too few corners are found."""
    mask = np.full(previous.shape, 255, np.uint8)
    for x0, y0, x1, y1 in people:
        mask[max(int(y0), 0):max(int(y1), 0), max(int(x0), 0):max(int(x1), 0)] = 0
    corners = cv2.goodFeaturesToTrack(previous, 200, 0.01, 8, mask=mask)
    if corners is None or len(corners) < 10:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None)
    ok = status[:, 0] == 1
    if ok.sum() < 10:
        return None
    return float(np.median(np.linalg.norm((moved - corners)[ok, 0], axis=-1)))


class WorldEstimator:
    """See the module docstring. K [3,3]: the run's intrinsics (pixels); focal_known: whether its
    focal length was given or measured (not the image diagonal's guess)."""

    def __init__(self, K: np.ndarray, config: WorldConfig = WorldConfig(), focal_known: bool = True) -> None:
        self.K = np.asarray(K, np.float64)
        self.config = config
        self.focal_known = focal_known
        self.ups: list[np.ndarray] = []
        self.supports: list[np.ndarray] = []
        self.people: list[np.ndarray] = []
        self.normals: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.moving_from: int | None = None
        self._last_look: tuple[float, np.ndarray] | None = None
        self._looks = 0
        self._horizontal_up: tuple[int, np.ndarray | None] = (0, None)  # (looks it was found from, up)
        self.source = ""

    def observe(self, frame: Frame, people: list[PersonBody]) -> None:
        """Add one frame's evidence (nothing once the camera has moved)."""
        if self.moving_from is not None:
            return
        c = self.config
        if c.lines and (self._last_look is None or frame.time_s - self._last_look[0] >= c.lines_every_s):
            gray = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY), None, fx=0.5, fy=0.5,
                              interpolation=cv2.INTER_AREA)
            if self._last_look is not None:
                shift = background_motion(self._last_look[1], gray, [p.box * 0.5 for p in people])
                if shift is not None and shift > c.moving_px * gray.shape[1]:
                    self.moving_from = frame.index
                    return
            if self._looks < c.max_line_frames:  # the edges of the first looks; the motion check goes on
                normals, lengths = line_planes(gray, np.diag([0.5, 0.5, 1.0]) @ self.K)
                self.normals.append(normals)
                self.lengths.append(lengths)
                self._looks += 1
            self._last_look = (frame.time_s, gray)
        if people:
            ups, supports = body_evidence(np.stack([p.keypoints3d for p in people]))
            self.ups.append(ups)
            self.supports.append(supports)
            self.people.append(np.array([p.track_id for p in people]))

    def estimate(self) -> WorldFrame | None:
        """The world so far, or None (too few people seen); `source` says where its up came from."""
        if not self.ups:
            return None
        ups, supports = np.concatenate(self.ups), np.concatenate(self.supports)
        prior = mean_up(ups, self.config.ground)
        if prior is None:
            return None
        up, self.source = None, "people"
        if self.normals:
            normals, lengths = np.concatenate(self.normals), np.concatenate(self.lengths)
            if self.focal_known and self.config.horizontals:
                if self._horizontal_up[0] != len(self.normals):  # once per look
                    self._horizontal_up = (len(self.normals), up_from_horizontals(normals, lengths, prior))
                up = self._horizontal_up[1]
                self.source = "horizontal edges" if up is not None else self.source
            if up is None:
                # each edge counts by the root of its length (one long edge, such as a floor's running away
                # from the camera, must not outvote many short vertical ones), inliers within 0.5 degrees (E45)
                up = vertical_direction(normals, np.sqrt(lengths), prior, inlier_deg=0.5)
                self.source = self.source if up is None else "vertical edges" if self.focal_known else \
                    "people's feet and vertical edges"
        return fit_ground(ups, supports, self.config.ground, up=up,
                          up_weight=None if self.focal_known else self.config.guessed_focal_weight,
                          people=np.concatenate(self.people))

    def info(self, world: WorldFrame) -> dict:
        """JSON-ready facts about `world` for the results' metadata."""
        return dict(height_m=round(world.height_m, 3), pitch_deg=round(world.pitch_deg, 2),
                    roll_deg=round(world.roll_deg, 2), up_from=self.source, camera_moves_from=self.moving_from)


def track_in_world(world: WorldFrame, time_s: np.ndarray, keypoints3d: np.ndarray, keypoints2d: np.ndarray,
                   boxes: np.ndarray, joints: np.ndarray, transl: np.ndarray, pose: np.ndarray | None = None,
                   parents: list[int] | None = None, legs: list[Leg] | None = None,
                   config: WorldConfig = WorldConfig()) -> dict[str, np.ndarray]:
    """One track's world arrays (metres, world frame): `contacts` [T,2] bool (left, right foot),
    `joints_world` [T,J,3], `keypoints_world` [T,33,3] and `transl_world` [T,3] with feet in contact
    planted (`feet.plant`: the body scaled about the camera by `world_scale` [T], `planting_scale`)
    and held (`feet.lock`). With `pose` [T,B,3,3] (camera-frame local rotations), `parents` and the
    left and right `legs` (hip, knee, ankle joint indices), a held foot is moved by bending its leg
    (`legs.bend_legs`) and `pose_world` [T,B,3,3] is that pose (local rotations, the root's in the
    world frame); without them the whole body is shifted on the ground."""
    f = config.feet
    contacts = foot_contacts(keypoints3d, keypoints2d, boxes, time_s, world, f)
    scale = planting_scale(keypoints3d, contacts, world, config.ground.sole_m, time_s, f.smooth_s) if f.plant \
        else np.ones(len(time_s))
    kp_w = world.points(keypoints3d * scale[:, None, None])
    joints_w, transl_w = world.points(joints * scale[:, None, None]), world.points(transl * scale[:, None])
    out = {"contacts": contacts}
    feet = np.stack([kp_w[:, side].mean(1) for side in FEET], 1)  # [T,2,3]
    if pose is not None and legs is not None and parents is not None:
        pose_w = pose.astype(np.float64).copy()
        if f.lock:
            offsets = np.stack([lock_offsets(feet, contacts & (np.arange(2) == side), time_s, f.ramp_s, f.hold_s)
                                for side in (0, 1)], 1)  # [T,2,3] each foot held on its own
            targets = joints_w[:, [leg[2] for leg in legs]] + offsets
            targets[(offsets == 0).all(-1)] = np.nan
            forward = np.stack([kp_w[:, toe] - kp_w[:, heel] for heel, toe in FEET], 1)
            before = joints_w[:, [leg[1] for leg in legs] + [leg[2] for leg in legs]]
            pose_w, joints_w = bend_legs(pose, joints_w, parents, legs, targets, forward, world.rotation)
            moved = joints_w[:, [leg[1] for leg in legs] + [leg[2] for leg in legs]] - before  # knees, ankles
            for side, (heel, toe) in enumerate(FEET):
                kp_w[:, KNEES[side]] += moved[:, side]
                kp_w[:, [ANKLES[side], heel, toe]] += moved[:, 2 + side, None]
        root = parents.index(-1)
        pose_w[:, root] = world.rotation @ pose_w[:, root]
        out["pose_world"] = pose_w.astype(np.float32)
    elif f.lock:
        shift = lock_offsets(feet, contacts, time_s, f.ramp_s, f.hold_s)
        kp_w, joints_w, transl_w = kp_w + shift[:, None], joints_w + shift[:, None], transl_w + shift
    return out | {"joints_world": joints_w.astype(np.float32), "keypoints_world": kp_w.astype(np.float32),
                  "transl_world": transl_w.astype(np.float32), "world_scale": scale.astype(np.float32)}
