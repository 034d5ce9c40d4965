"""Hard-pose evaluation: rendered Anny bodies in hard poses, seen by the real detector.

    python -m metahmr_trainer.hardpose [--n 30] [--refresh] [--set adapt.KEY=VALUE]
    metahmr-video evaluate --splits hardpose

Per pose category (`CATEGORIES`, procedural poses on Anny's cmu_mb rig, axes as in
`metahmr_trainer.prior`), `build_split` draws bodies (random shape, any heading), frames each in
a camera 3-6 m away (the whole person 200-500 px across, inside a 640-1024 px image; `cut_by_frame`:
a walking or standing person cut at the waist, hips or knees by the bottom edge,
`render_data.frame_cut`), renders the full mesh (`render_data.SampleRenderer.render`: looks,
backgrounds, no occluder) and runs the product's detector on the image as on a photo (full-frame
pass, no HOG boxes; the detection whose box overlaps the true one by IoU >= 0.3). The truth is
the body's own 33 landmarks, so it is exact and independent of MediaPipe. Images are not kept.

Scores (`Evaluation`): per category and in total, for MediaPipe's world landmarks and 2D landmarks
(the input) and for the product's photo fit (`fit_as_photo`): PA-MPJPE (mm) on the 15 standard
joints (`realpix.joints.standard_from_landmarks`, as `eval_rendered`), the mean 2D error of the 12
limb landmarks that lie inside the image in % of the person's true 2D size (the larger side of the
box around the true 33 landmarks, in or out of the image: the height for an upright person), the
share of people whose 2D error exceeds 6 %, and catastrophes (a fit worse than the input by
more than 20 mm PA-MPJPE). Detector misses count against recall and are left out of the scores.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from metahmr_trainer.metrics import pa_errors
from metahmr_trainer.realpix.joints import standard_from_landmarks

DEFAULT_CACHE = Path("~/.cache/metahmr_video/hardpose").expanduser()
LIMB_LANDMARKS = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]  # shoulders .. ankles (MediaPipe-33)
IMAGE_SIZES = ((640, 480), (800, 600), (1024, 768), (768, 1024), (600, 800), (1024, 576))
BAD_2D = 6.0  # % of the person's size: a 2D fit worse than this counts as failed
CATASTROPHE_MM = 20.0
FLOOR_CATEGORIES = ("lying_back_leg_raised", "all_fours", "sitting_floor")  # seen from higher up
CUTS = ("waist", "hips", "knees")
REST_ARM_OUT = 0.73  # radians the rest pose's upper arms point out from straight down (Anny's A-pose)
STRAIGHT_ELBOW = (-0.75, -0.5)  # elbow "flexion" that straightens the rest pose's bent elbows (43 deg)


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _n(g: torch.Generator, n: int, mean: float, sd: float) -> torch.Tensor:
    return mean + sd * torch.randn(n, generator=g)


class Rig:
    """Writes degrees of freedom into [n,31,3] rotation vectors in Anny's local-ref axes (X the
    body's left, Y backwards, Z up; bone 0 the orientation in that world frame, Z up)."""

    def __init__(self, body) -> None:
        from metahmr_trainer.prior import MotionPrior
        from metahmr_trainer.rendered import mirror_bones

        self.names = list(body.joint_names)
        self.idx = {b: i for i, b in enumerate(self.names)}
        self.prior = MotionPrior(body)
        self.elbow_axis = self.prior.elbow_axis
        self.mirror_perm = mirror_bones(self.names)
        self.heading: float | None = None  # a fixed heading (radians) instead of a random one, for inspection

    def zeros(self, n: int) -> torch.Tensor:
        return torch.zeros(n, len(self.names), 3)

    def set(self, rot: torch.Tensor, bone: str, x=0.0, y=0.0, z=0.0) -> None:
        """rot[:, bone] = (x, y, z) (radians; tensors [n] or floats)."""
        n = rot.shape[0]
        rot[:, self.idx[bone]] = torch.stack([torch.as_tensor(v, dtype=torch.float32).expand(n) for v in (x, y, z)], -1)

    def pair(self, rot: torch.Tensor, bone: str, g: torch.Generator, x, y=(0.0, 0.0), z=(0.0, 0.0)) -> None:
        """Left{bone} and Right{bone} drawn independently from uniform (lo, hi) ranges given for the
        left side (the right side mirrored: y and z negated)."""
        n = rot.shape[0]
        for side, s in (("Left", 1.0), ("Right", -1.0)):
            self.set(rot, side + bone, _u(g, n, *x), s * _u(g, n, *y), s * _u(g, n, *z))

    def arms(self, rot: torch.Tensor, g: torch.Generator, flex: torch.Tensor, out: tuple[float, float]) -> None:
        """Both upper arms first brought down along the body from the rest A-pose (42 deg out),
        then moved out sideways by U(out) radians and flexed forward by `flex` [n] radians about
        the body's X (pi/2: pointing forward, pi: overhead); the same `flex` for both arms."""
        from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

        n = rot.shape[0]
        z = torch.zeros(n)
        for side, s in (("Left", 1.0), ("Right", -1.0)):
            side_way = s * (REST_ARM_OUT - _u(g, n, *out))
            m = axis_angle_to_rotmat(torch.stack([-flex, z, z], -1)) @ axis_angle_to_rotmat(torch.stack([z, side_way, z], -1))
            rot[:, self.idx[f"{side}Arm"]] = rotmat_to_axis_angle(m)

    def spine(self, rot: torch.Tensor, bend: torch.Tensor, twist: torch.Tensor | float = 0.0) -> None:
        """Forward bend and twist (radians, total) spread over LowerBack, Spine and Spine1."""
        for b in ("LowerBack", "Spine", "Spine1"):
            self.set(rot, b, bend / 3, 0.0, twist / 3)

    def elbows(self, rot: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> None:
        """Elbow flexion angles [n] (radians) about each elbow's own axis."""
        for side, a in (("Left", left), ("Right", right)):
            rot[:, self.idx[f"{side}ForeArm"]] = a[:, None] * self.elbow_axis[side]

    def root(self, rot: torch.Tensor, g: torch.Generator, pitch: torch.Tensor, roll: torch.Tensor | float = 0.0) -> None:
        """Bone 0: any heading (about Z), then `pitch` about X (positive: bending forward, pi/2
        face down, -pi/2 on the back), after `roll` about the body's Y (a sideways lean)."""
        from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

        n = rot.shape[0]
        z = torch.zeros(n)
        yaw = _u(g, n, -math.pi, math.pi) if self.heading is None else torch.full((n,), self.heading)
        roll = torch.as_tensor(roll, dtype=torch.float32).expand(n)
        m = (axis_angle_to_rotmat(torch.stack([z, z, yaw], -1)) @ axis_angle_to_rotmat(torch.stack([pitch, z, z], -1))
             @ axis_angle_to_rotmat(torch.stack([z, roll, z], -1)))
        rot[:, 0] = rotmat_to_axis_angle(m)

    def mirror(self, rot: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Rows in `mask` seen in a mirror (left and right bones exchanged, y and z negated)."""
        flipped = rot[:, self.mirror_perm] * torch.tensor([1.0, -1.0, -1.0])
        return torch.where(mask[:, None, None], flipped, rot)


def lying_back_leg_raised(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """On the back, one leg (35 %: both) raised 45-100 deg at the hip, the other flat."""
    r = rig.zeros(n)
    rig.root(r, g, _n(g, n, -math.pi / 2, 0.06), _n(g, n, 0.0, 0.08))
    both = torch.rand(n, generator=g) < 0.35
    rig.set(r, "LeftUpLeg", -_u(g, n, 0.79, 1.75), _n(g, n, 0.0, 0.1))
    rig.set(r, "LeftLeg", _u(g, n, 0.0, 0.4))
    rig.set(r, "RightUpLeg", torch.where(both, -_u(g, n, 0.79, 1.75), _u(g, n, -0.15, 0.05)), _n(g, n, 0.0, 0.1))
    rig.set(r, "RightLeg", torch.where(both, _u(g, n, 0.0, 0.4), _u(g, n, 0.0, 0.3)))
    rig.pair(r, "Arm", g, x=(-0.4, 0.05), y=(-1.3, 0.0), z=(-0.3, 0.3))
    rig.elbows(r, _u(g, n, 0.0, 0.8), _u(g, n, 0.0, 0.8))
    rig.set(r, "Neck", _u(g, n, -0.1, 0.5))
    return rig.mirror(r, torch.rand(n, generator=g) < 0.5)


def all_fours(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """On hands and knees: thighs and arms vertical, shins flat, the torso within 7-20 deg of
    horizontal (shoulders higher: arms are longer than thighs), looking ahead or down."""
    r = rig.zeros(n)
    tilt = _u(g, n, 0.12, 0.35)
    rig.root(r, g, math.pi / 2 - tilt, _n(g, n, 0.0, 0.05))
    for side, s in (("Left", 1.0), ("Right", -1.0)):
        rig.set(r, f"{side}UpLeg", -(math.pi / 2 - tilt) + _n(g, n, 0.0, 0.08), s * _u(g, n, -0.15, 0.0))
        rig.set(r, f"{side}Leg", _u(g, n, 1.45, 1.75))
    rig.arms(r, g, math.pi / 2 - tilt + _n(g, n, 0.0, 0.08), (0.0, 0.2))
    rig.elbows(r, _u(g, n, *STRAIGHT_ELBOW), _u(g, n, *STRAIGHT_ELBOW))
    rig.spine(r, _n(g, n, 0.0, 0.15))
    rig.set(r, "Neck", -_u(g, n, -0.2, 0.6))
    return r


def kneeling_upright(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Kneeling with the torso and thighs upright, shins flat behind; 35 %: on one knee (the
    other foot planted in front, thigh level, shin vertical)."""
    r = rig.zeros(n)
    rig.root(r, g, _n(g, n, 0.05, 0.08), _n(g, n, 0.0, 0.05))
    rig.pair(r, "UpLeg", g, x=(-0.15, 0.1), y=(-0.2, 0.0))
    rig.pair(r, "Leg", g, x=(1.45, 1.75))
    one = torch.rand(n, generator=g) < 0.35
    r[one, rig.idx["LeftUpLeg"], 0] = -_u(g, int(one.sum()), 1.3, 1.7)
    r[one, rig.idx["LeftLeg"], 0] = _u(g, int(one.sum()), 1.3, 1.7)
    rig.pair(r, "Arm", g, x=(-1.5, 0.3), y=(-1.0, 0.0), z=(-0.4, 0.4))
    rig.elbows(r, _u(g, n, 0.0, 1.5), _u(g, n, 0.0, 1.5))
    rig.spine(r, _n(g, n, 0.0, 0.1), _n(g, n, 0.0, 0.2))
    return rig.mirror(r, torch.rand(n, generator=g) < 0.5)


def wide_stance(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Legs spread wide with bent knees: half a straddle (both legs 26-43 deg out), half a lunge
    (one leg forward, the other back); arms up in a guard (60 %) or spread."""
    r = rig.zeros(n)
    rig.root(r, g, _u(g, n, -0.05, 0.25), _n(g, n, 0.0, 0.05))
    lunge = torch.rand(n, generator=g) < 0.5
    rig.pair(r, "UpLeg", g, x=(-0.5, -0.1), y=(-0.75, -0.45))
    rig.pair(r, "Leg", g, x=(0.3, 1.0))
    k = int(lunge.sum())
    lunge_dof = {("LeftUpLeg", 0): -_u(g, k, 0.9, 1.4), ("LeftUpLeg", 1): -_u(g, k, 0.1, 0.35),
                 ("LeftLeg", 0): _u(g, k, 0.8, 1.5), ("RightUpLeg", 0): _u(g, k, 0.3, 0.5),
                 ("RightUpLeg", 1): _u(g, k, 0.1, 0.35), ("RightLeg", 0): _u(g, k, 0.1, 0.6)}
    for (bone, axis), v in lunge_dof.items():
        r[lunge, rig.idx[bone], axis] = v
    guard = torch.rand(n, generator=g) < 0.6
    rig.pair(r, "Arm", g, x=(-1.3, -0.6), y=(-0.5, -0.1))
    spread = ~guard
    r[spread, rig.idx["LeftArm"], 1] = -_u(g, int(spread.sum()), 0.8, 1.5)
    r[spread, rig.idx["RightArm"], 1] = _u(g, int(spread.sum()), 0.8, 1.5)
    rig.elbows(r, torch.where(guard, _u(g, n, 1.3, 2.2), _u(g, n, 0.0, 0.6)),
               torch.where(guard, _u(g, n, 1.3, 2.2), _u(g, n, 0.0, 0.6)))
    rig.spine(r, _u(g, n, 0.0, 0.3), _n(g, n, 0.0, 0.2))
    return rig.mirror(r, torch.rand(n, generator=g) < 0.5)


def sitting_floor(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Sitting on the floor leaning back 0-20 deg: legs forward (55 %: straight to knees up, the
    feet on the floor) or crossed; hands on the floor behind or on the knees."""
    r = rig.zeros(n)
    back = _u(g, n, 0.0, 0.35)
    rig.root(r, g, -back, _n(g, n, 0.0, 0.05))
    crossed = torch.rand(n, generator=g) >= 0.55
    for side, s in (("Left", 1.0), ("Right", -1.0)):
        up = _u(g, n, 0.0, 0.7)  # thigh raised from the floor; the shin comes back down to it
        knee = torch.where(crossed, _u(g, n, 2.0, 2.4), 2 * up)
        hip = torch.where(crossed, math.pi / 2 - back + _u(g, n, 0.1, 0.35), math.pi / 2 - back + up)
        rig.set(r, f"{side}UpLeg", -hip, s * torch.where(crossed, -_u(g, n, 0.6, 0.9), -_u(g, n, 0.0, 0.3)),
                s * torch.where(crossed, _u(g, n, 0.3, 0.6), torch.zeros(n)))
        rig.set(r, f"{side}Leg", knee)
    on_knees = torch.rand(n, generator=g) < 0.5
    rig.pair(r, "Arm", g, x=(0.0, 0.6), y=(-0.5, -0.2))
    k = int(on_knees.sum())
    r[on_knees, rig.idx["LeftArm"], 0] = -_u(g, k, 0.4, 1.0)
    r[on_knees, rig.idx["RightArm"], 0] = -_u(g, k, 0.4, 1.0)
    rig.elbows(r, torch.where(on_knees, _u(g, n, 0.3, 1.2), _u(g, n, 0.0, 0.3)),
               torch.where(on_knees, _u(g, n, 0.3, 1.2), _u(g, n, 0.0, 0.3)))
    rig.spine(r, _n(g, n, 0.15, 0.1))
    return rig.mirror(r, torch.rand(n, generator=g) < 0.5)


def bending_forward(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Standing, bent forward 69-103 deg at the hips and spine together (legs vertical), arms hanging."""
    r = rig.zeros(n)
    total = _u(g, n, 1.2, 1.8)
    spine = total * _u(g, n, 0.2, 0.5)
    rig.root(r, g, total - spine, _n(g, n, 0.0, 0.05))
    for side, s in (("Left", 1.0), ("Right", -1.0)):
        rig.set(r, f"{side}UpLeg", -(total - spine) + _n(g, n, 0.0, 0.05), s * _u(g, n, -0.15, 0.0))
        rig.set(r, f"{side}Leg", _u(g, n, 0.0, 0.25))
    rig.arms(r, g, total + _n(g, n, 0.0, 0.15), (0.0, 0.25))
    rig.elbows(r, _u(g, n, -0.75, 0.0), _u(g, n, -0.75, 0.0))
    rig.spine(r, spine)
    rig.set(r, "Neck", _n(g, n, -0.2, 0.2))
    return r


def arms_overhead(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Standing, both arms raised overhead (149-172 deg forward flexion), elbows nearly straight."""
    r = rig.zeros(n)
    rig.root(r, g, _n(g, n, 0.0, 0.05), _n(g, n, 0.0, 0.05))
    rig.pair(r, "UpLeg", g, x=(-0.3, 0.0), y=(-0.2, 0.0))
    rig.pair(r, "Leg", g, x=(0.0, 0.3))
    rig.arms(r, g, _u(g, n, 2.6, 3.0), (0.0, 0.5))
    rig.elbows(r, _u(g, n, -0.75, 0.0), _u(g, n, -0.75, 0.0))
    rig.spine(r, _n(g, n, -0.05, 0.05))
    return r


def jump_tuck(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """In the air with the knees pulled up (hips flexed 86-120 deg, knees 97-132 deg), arms
    forward or up."""
    r = rig.zeros(n)
    rig.root(r, g, _u(g, n, -0.2, 0.15), _n(g, n, 0.0, 0.05))
    rig.pair(r, "UpLeg", g, x=(-2.1, -1.5), y=(-0.3, 0.0))
    rig.pair(r, "Leg", g, x=(1.7, 2.3))
    rig.pair(r, "Arm", g, x=(-2.8, -0.5), y=(-0.6, 0.0))
    rig.elbows(r, _u(g, n, 0.2, 1.5), _u(g, n, 0.2, 1.5))
    rig.spine(r, _u(g, n, 0.0, 0.3))
    return rig.mirror(r, torch.rand(n, generator=g) < 0.5)


def cut_by_frame(rig: Rig, g: torch.Generator, n: int) -> torch.Tensor:
    """Walking (or standing still, 30 %) upright; `build_split` frames it cut at the waist, hips or knees."""
    r = rig.prior.sample(n, g, activity="walk")
    still = torch.rand(n, generator=g) < 0.3
    r[still, 1:] *= 0.3
    rig.root(r, g, _n(g, n, 0.0, 0.05), _n(g, n, 0.0, 0.03))
    return r


PoseFn = Callable[[Rig, torch.Generator, int], torch.Tensor]
CATEGORIES: dict[str, PoseFn] = {f.__name__: f for f in (
    lying_back_leg_raised, all_fours, kneeling_upright, wide_stance, sitting_floor, bending_forward,
    arms_overhead, jump_tuck, cut_by_frame)}


def frame_whole(vertices: torch.Tensor, size: tuple[int, int], g: torch.Generator,
                tries: int = 10) -> tuple[float, torch.Tensor] | None:
    """(focal px, pelvis translation [3] m) that shows a whole body (vertices [V,3], pelvis at the
    origin, camera orientation: x right, y down, z forward) 200-500 px across (at most 85 % of the
    image), 3-6 m away, anywhere in the image; focal within 0.6-1.4 x the diagonal where the
    distance allows. None when no try keeps every vertex inside the image."""
    w, h = size
    diag = math.hypot(w, h)
    lo, hi = vertices[:, :2].min(0).values, vertices[:, :2].max(0).values
    ext, centre = (hi - lo).clamp(min=0.05), (hi + lo) / 2
    target = float(_u(g, 1, 200, 500))
    for _ in range(tries):
        r = min(target / float(ext.max()), 0.85 * w / float(ext[0]), 0.85 * h / float(ext[1]))  # px per metre
        d_lo, d_hi = max(3.0, 0.6 * diag / r), min(6.0, 1.4 * diag / r)
        d = float(_u(g, 1, d_lo, d_hi)) if d_lo <= d_hi else min(max(diag / r, 3.0), 6.0)
        slack = (torch.tensor([w, h]) - r * ext) / 2 * 0.8
        offset = (2 * torch.rand(2, generator=g) - 1) * slack.clamp(min=0)
        transl = torch.cat([offset / r - centre, torch.tensor([d])]).float()
        p = vertices + transl
        uv = r * d * p[:, :2] / p[:, 2:] + torch.tensor([w / 2, h / 2])
        if float(p[:, 2].min()) > 0.3 and bool(((uv >= 0) & (uv < torch.tensor([w, h]))).all()):
            return r * d, transl
        target *= 0.85
    return None


def sample_bodies(renderer, rig: Rig, category: str, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """n bodies of a category with their cameras: pose [n,31,3,3] (bone 0 in the camera frame),
    shape [n,6], transl [n,3] (pelvis, m, camera frame), keypoints3d [n,33,3] (m, camera frame),
    vertices [n,V,3] (full mesh), image_size [n,2] (w, h px), focal [n] px, cut [n] (index into
    CUTS, -1: whole body)."""
    from metahmr_video.core.rotations import axis_angle_to_rotmat
    from metahmr_trainer.data import CAM_FROM_ANNY
    from metahmr_trainer.render_data import frame_cut

    pose = axis_angle_to_rotmat(CATEGORIES[category](rig, g, n))
    elev = _u(g, n, 0.15, 0.6) if category in FLOOR_CATEGORIES else _u(g, n, -0.1, 0.4)
    rx = axis_angle_to_rotmat(torch.stack([-elev, torch.zeros(n), torch.zeros(n)], -1))
    pose[:, 0] = rx @ CAM_FROM_ANNY @ pose[:, 0]
    shape = _u(g, n * 6, 0.1, 0.9).reshape(n, 6)
    shape[:, 1] = _u(g, n, 0.4, 0.95)
    with torch.no_grad():
        kp = renderer.fit_body(pose, shape=shape, return_vertices=False).keypoints
        verts = torch.cat([renderer.full_body(pose[i:i + 16], shape=shape[i:i + 16]).vertices for i in range(0, n, 16)])
    sizes = torch.tensor(IMAGE_SIZES, dtype=torch.float32)[torch.randint(0, len(IMAGE_SIZES), (n,), generator=g)]
    focal, transl, cut = torch.zeros(n), torch.zeros(n, 3), torch.full((n,), -1)
    for i in range(n):
        size = (int(sizes[i, 0]), int(sizes[i, 1]))
        framed = None
        if category == "cut_by_frame":
            cut[i] = int(torch.randint(0, len(CUTS), (1,), generator=g))
            focal[i] = math.hypot(*size) * float(_u(g, 1, 0.6, 1.2))
            t = frame_cut(kp[i], verts[i], float(focal[i]), size, CUTS[cut[i]], g)
            framed = None if t is None else (float(focal[i]), t)
        if framed is None:
            cut[i] = -1
            framed = frame_whole(verts[i], size, g)
        if framed is None:
            raise RuntimeError(f"{category}: sample {i} does not fit its image")
        focal[i], transl[i] = framed
    return {"pose": pose, "shape": shape, "transl": transl, "keypoints3d": kp + transl[:, None],
            "vertices": verts + transl[:, None], "image_size": sizes, "focal": focal, "cut": cut}


def build_split(n_per_category: int = 30, seed: int = 0, cache_dir: Path = DEFAULT_CACHE, refresh: bool = False,
                progress: bool = True) -> dict[str, np.ndarray]:
    """The hard-pose split, rendered and detected once and cached in
    `cache_dir/hardpose_n{n}_seed{seed}.npz` (no images). Keys (N = 9 x n_per_category samples;
    pixels full frame, metres camera frame, OpenCV): category [N] (index into `categories`);
    keypoints3d [N,33,3] true landmarks; kp2d [N,33,2] their projection; image_size [N,2] (w, h);
    focal [N]; cut [N] (index into `cuts`, -1 whole); pose [N,31,3,3], shape [N,6], transl [N,3]
    (the rendered body); seed [N] (the render's look/background seed); found [N] bool; iou [N];
    n_det [N]; det_score [N]; det_kp2d [N,33,2]; det_conf, det_vis, det_pres [N,33]; det_world
    [N,33,3] (MediaPipe's world landmarks, hip-centred); det_box [N,4] (NaN where not found)."""
    from metahmr_video.core.camera import project
    from metahmr_video.core.records import Frame
    from metahmr_trainer.render_data import RenderConfig, SampleRenderer, _match, true_box

    path = Path(cache_dir).expanduser() / f"hardpose_n{n_per_category}_seed{seed}.npz"
    if path.exists() and not refresh:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    renderer = SampleRenderer(RenderConfig(truncated=0.0, occluded=0.0))
    rig = Rig(renderer.fit_body)
    parts, t0 = [], time.time()
    for c, name in enumerate(CATEGORIES):
        g = torch.Generator().manual_seed(seed * 1009 + c)
        b = sample_bodies(renderer, rig, name, n_per_category, g)
        kp2d = project(b["keypoints3d"], b["focal"], b["image_size"] / 2).numpy()
        seeds = torch.randint(0, 2**62, (n_per_category,), generator=g).numpy()
        det_rows = []
        for i in range(n_per_category):
            size = (int(b["image_size"][i, 0]), int(b["image_size"][i, 1]))
            image, _ = renderer.render(b["vertices"][i], kp2d[i], size, float(b["focal"][i]), False, int(seeds[i]))
            dets = renderer.detector.detect(Frame(index=0, time_s=0.0, image=image), hints=(), full=True)
            det, iou = _match(dets, true_box(kp2d[i], size))
            det_rows.append(_detection_row(det, iou, len(dets)))
        part = {k: np.stack([r[k] for r in det_rows]) for k in det_rows[0]}
        part.update({k: b[k].numpy().astype(np.float32) for k in ("keypoints3d", "image_size", "focal", "pose", "shape",
                                                                   "transl")})
        part.update(category=np.full(n_per_category, c, np.int32), kp2d=kp2d.astype(np.float32),
                    cut=b["cut"].numpy().astype(np.int32), seed=seeds.astype(np.int64))
        parts.append(part)
        if progress:
            print(f"{name}: found {int(part['found'].sum())}/{n_per_category} ({time.time() - t0:.0f} s)", file=sys.stderr)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out.update(categories=np.array(list(CATEGORIES)), cuts=np.array(CUTS))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    return out


def render_photos(categories: list[str], out_dir: Path, seed: int = 0, tries: int = 8) -> list[Path]:
    """One rendered photo per category, the first of up to `tries` people that the detector finds,
    as `out_dir/<category>.png` (for `metahmr-video run out_dir --photos --overlay`)."""
    import cv2

    from metahmr_video.core.camera import project
    from metahmr_video.core.records import Frame
    from metahmr_trainer.render_data import RenderConfig, SampleRenderer, _match, true_box

    renderer = SampleRenderer(RenderConfig(truncated=0.0, occluded=0.0))
    rig = Rig(renderer.fit_body)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in categories:
        g = torch.Generator().manual_seed(seed * 1009 + list(CATEGORIES).index(name))
        b = sample_bodies(renderer, rig, name, tries, g)
        kp2d = project(b["keypoints3d"], b["focal"], b["image_size"] / 2).numpy()
        for i in range(tries):
            size = (int(b["image_size"][i, 0]), int(b["image_size"][i, 1]))
            image, _ = renderer.render(b["vertices"][i], kp2d[i], size, float(b["focal"][i]), False, seed * 7919 + i)
            dets = renderer.detector.detect(Frame(index=0, time_s=0.0, image=image), hints=(), full=True)
            if _match(dets, true_box(kp2d[i], size))[0] is not None:
                written.append(out_dir / f"{name}.png")
                cv2.imwrite(str(written[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                break
    return written


def _detection_row(det, iou: float, n_det: int) -> dict[str, np.ndarray]:
    """One sample's stored detection (NaN fields when not found)."""
    found = det is not None
    get = lambda attr, shape: np.asarray(getattr(det, attr), np.float32) if found else np.full(shape, np.nan, np.float32)  # noqa: E731
    return {"found": np.bool_(found), "iou": np.float32(iou), "n_det": np.int32(n_det),
            "det_score": np.float32(det.score if found else np.nan), "det_kp2d": get("keypoints2d", (33, 2)),
            "det_conf": get("keypoint_conf", (33,)), "det_vis": get("visibility", (33,)),
            "det_pres": get("presence", (33,)), "det_world": get("world_landmarks", (33, 3)), "det_box": get("box", (4,))}


def found_samples(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The samples the detector found (name lists kept as they are)."""
    f = split["found"].astype(bool)
    return {k: (v if v.dtype.kind == "U" else v[f]) for k, v in split.items()}


def fit_as_photo(fitter, split: dict[str, np.ndarray], config=None, **overrides) -> tuple[np.ndarray, np.ndarray]:
    """The product's photo fit of every found sample's stored detection (`run --photos`: an Adapter
    with `AdaptConfig.photo_steps`, no frame budget, no carry, the render's true focal; `config`: the
    AdaptConfig to start from (default: the product's), `overrides`: other AdaptConfig fields, e.g.
    temporal_prior=0.0): (keypoints3d [N,33,3] m camera frame, their reprojection [N,33,2] px, equal
    to `FitResult.keypoints2d_pred`)."""
    from metahmr_video.adapt import AdaptConfig

    config = (AdaptConfig() if config is None else config).for_photo()
    kp3d, kp2d, _ = _held_still(fitter, found_samples(split), dataclasses.replace(config, **overrides), 1)
    return kp3d, kp2d


def fit_as_video(fitter, split: dict[str, np.ndarray], frames: int = 10, config=None,
                 **overrides) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each found sample through the video path: the person held still for `frames` frames at 30 fps
    (its stored detection every frame, one track), an Adapter with `run`'s video settings (frame
    budget, carried adaptation, temporal prior, the landmark start; `config`: the AdaptConfig to start
    from, default the product's; `overrides`: other AdaptConfig fields) and the evidence gate
    (`EvidenceGate`, as `run` judges a track). Returns the last
    frame's keypoints3d [N,33,3] (m, camera frame), their reprojection [N,33,2] (px) and whether
    the gate lets the track be reported [N] bool."""
    from metahmr_video.adapt import AdaptConfig

    return _held_still(fitter, found_samples(split), dataclasses.replace(AdaptConfig() if config is None else config,
                                                                         **overrides), frames)


def _held_still(fitter, a: dict[str, np.ndarray], config, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each found sample's stored detection given to a fresh Adapter (`config`, the render's true
    focal) on `frames` frames at 30 fps, its bodies to an `EvidenceGate`: the last keypoints3d
    [N,33,3], their reprojection [N,33,2] px and the gate's verdicts [N] bool."""
    from metahmr_video.adapt import Adapter
    from metahmr_video.core.camera import project
    from metahmr_video.core.records import Frame, TrackedPerson
    from metahmr_video.track.evidence_gate import EvidenceGate
    from metahmr_trainer.rendered import stored_detection

    kp3d, shown = np.zeros((len(a["found"]), 33, 3), np.float32), np.zeros(len(a["found"]), bool)
    for i in range(len(kp3d)):
        w, h = (int(v) for v in a["image_size"][i])
        image = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (h, w, 3))
        adapter, gate = Adapter(fitter, config, focal=float(a["focal"][i])), EvidenceGate()
        for f in range(frames):
            body = adapter(Frame(index=f, time_s=f / 30.0, image=image),
                           [TrackedPerson(track_id=1, detection=stored_detection(a, i))])[0]
            gate.observe([body])
        kp3d[i], shown[i] = body.keypoints3d, gate.shown(1)
    kp2d = project(torch.from_numpy(kp3d), torch.from_numpy(a["focal"]), torch.from_numpy(a["image_size"] / 2)).numpy()
    return kp3d, kp2d, shown


def pa_mpjpe(pred33: np.ndarray, true33: np.ndarray) -> np.ndarray:
    """[N] PA-MPJPE (mm) on the 15 standard joints of two sets of 33 landmarks [N,33,3] (metres;
    any frame for pred33: the similarity alignment removes it)."""
    p = torch.as_tensor(standard_from_landmarks(np.asarray(pred33, np.float64)))
    t = torch.as_tensor(standard_from_landmarks(np.asarray(true33, np.float64)))
    return pa_errors(p, t).mean(-1).numpy() * 1000


def limb_error_2d(pred2d: np.ndarray, true2d: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """[N] mean pixel error of the 12 limb landmarks inside the image, in % of the person's true 2D
    size (the larger side of the box around all 33 true landmarks); NaN with none inside."""
    size = (true2d.max(1) - true2d.min(1)).max(-1)
    t = true2d[:, LIMB_LANDMARKS]
    inside = (t >= 0).all(-1) & (t < image_size[:, None]).all(-1)
    err = np.linalg.norm(pred2d[:, LIMB_LANDMARKS] - t, axis=-1)
    with np.errstate(invalid="ignore"):
        return 100 * np.where(inside, err, 0).sum(1) / inside.sum(1) / size


class Evaluation:
    """Per-sample scores of methods on a split's found samples, summarised per category.

    >>> ev = Evaluation(split)
    >>> ev.score_method("multi-start", kp3d, kp2d)     # one more row: [N_found,33,3], [N_found,33,2]
    """

    def __init__(self, split: dict[str, np.ndarray], input_name: str = "MediaPipe (input)") -> None:
        self.split, self.found = split, found_samples(split)
        self.input_name = input_name
        self.scores: dict[str, dict[str, np.ndarray]] = {}
        self.score_method(input_name, self.found["det_world"], self.found["det_kp2d"])

    def score_method(self, name: str, landmarks33: np.ndarray, keypoints2d: np.ndarray) -> dict[str, np.ndarray]:
        """Score a method's landmarks [N,33,3] (m) and 2D landmarks [N,33,2] (px), one row per found
        sample: {'pa' mm, 'err2d' % of the person's size} [N]."""
        a = self.found
        if len(landmarks33) != len(a["found"]) or len(keypoints2d) != len(a["found"]):
            raise ValueError(f"{name}: expected {len(a['found'])} found samples, got {len(landmarks33)}")
        s = {"pa": pa_mpjpe(landmarks33, a["keypoints3d"]), "err2d": limb_error_2d(keypoints2d, a["kp2d"], a["image_size"])}
        self.scores[name] = s
        return s

    def summary(self) -> dict[str, dict]:
        """{category or 'total': {n, found, recall, methods: {name: {pa, err2d, bad2d (share of people
        above BAD_2D %), catastrophes (people where PA is worse than the input's by > CATASTROPHE_MM;
        absent for the input)}}}}."""
        names = list(self.split["categories"])
        out = {}
        for c, cat in [(k, n) for k, n in enumerate(names)] + [(None, "total")]:
            all_in = np.ones(len(self.split["found"]), bool) if c is None else self.split["category"] == c
            sel = np.ones(len(self.found["found"]), bool) if c is None else self.found["category"] == c
            row = {"n": int(all_in.sum()), "found": int(sel.sum()), "recall": float(sel.sum() / max(all_in.sum(), 1)),
                   "methods": {}}
            base = self.scores[self.input_name]["pa"][sel]
            for name, s in self.scores.items():
                m = {"pa": _mean(s["pa"][sel]), "err2d": _mean(s["err2d"][sel]),
                     "bad2d": _mean(s["err2d"][sel] > BAD_2D)}
                if name != self.input_name:
                    m["catastrophes"] = int((s["pa"][sel] > base + CATASTROPHE_MM).sum())
                row["methods"][name] = m
            out[cat] = row
        return out


def _mean(v: np.ndarray) -> float:
    v = np.asarray(v, np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def format_table(summary: dict[str, dict]) -> str:
    """Markdown: one row per category (and the total), per method PA-MPJPE, 2D error, the share
    above BAD_2D, (not for the input) catastrophes and (video methods) the share reported."""
    first = next(iter(summary.values()))["methods"]
    methods, video = list(first), [m for m in first if "reported" in first[m]]
    head = ["category", "n", "detector recall"]
    head += [f"{m} PA-MPJPE (mm)" for m in methods] + [f"{m} 2D (% of size)" for m in methods]
    head += [f"{m} > {BAD_2D:g} %" for m in methods] + [f"{m} catastrophes (> {CATASTROPHE_MM:g} mm worse)" for m in methods[1:]]
    head += [f"{m} reported" for m in video]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cat, row in summary.items():
        ms = row["methods"]
        cells = [f"**{cat}**" if cat == "total" else cat, str(row["n"]), f"{100 * row['recall']:.0f} %"]
        cells += [f"{ms[m]['pa']:.1f}" for m in methods] + [f"{ms[m]['err2d']:.1f}" for m in methods]
        cells += [f"{100 * ms[m]['bad2d']:.0f} %" for m in methods] + [f"{ms[m]['catastrophes']}" for m in methods[1:]]
        cells += [f"{100 * ms[m]['reported']:.0f} %" for m in video]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_hardpose(fitter, n_per_category: int = 30, seed: int = 0, cache_dir: Path = DEFAULT_CACHE,
                      refresh: bool = False, video_frames: int = 10, config=None, network_rows: bool = True) -> dict:
    """Build (or load) the split, score the input, `fitter`'s network alone (TTO from the
    meta-parameters), the photo fit as `run --photos` does it (the network or the landmark fit,
    whichever explains the evidence better) and, with `video_frames` > 0, the video path on each
    person held still (`fit_as_video`, with and without the landmark start; the share of people
    whose track the evidence gate reports is each summary row's 'reported'):
    {'summary': `Evaluation.summary`, 'per_sample': {method: {pa, err2d}} over the found samples,
    with their 'category'}. `config`: the AdaptConfig of every row (default: the product's; the
    network-only rows differ from it only in landmark_start="never"; network_rows=False leaves them out)."""
    split = build_split(n_per_category, seed, cache_dir, refresh)
    ev = Evaluation(split)
    if network_rows:
        ev.score_method("ours, network only", *fit_as_photo(fitter, split, config, landmark_start="never"))
    ev.score_method("ours (run --photos)", *fit_as_photo(fitter, split, config))
    reported = {}
    if video_frames > 0:
        for name, start in (("video, network only", "never"), ("ours (run, video)", "always"))[0 if network_rows else 1:]:
            kp3d, kp2d, reported[name] = fit_as_video(fitter, split, video_frames, config, landmark_start=start)
            ev.score_method(name, kp3d, kp2d)
    summary = ev.summary()
    for cat, row in summary.items():
        sel = slice(None) if cat == "total" else ev.found["category"] == list(split["categories"]).index(cat)
        for name, shown in reported.items():
            row["methods"][name]["reported"] = float(np.mean(shown[sel])) if np.size(shown[sel]) else float("nan")
    return {"n_per_category": n_per_category, "seed": seed, "video_frames": video_frames,
            "adapt": None if config is None else dataclasses.asdict(config), "summary": summary,
            "per_sample": {"category": ev.found["category"].tolist(),
                           **{m: {k: v.tolist() for k, v in s.items()} for m, s in ev.scores.items()},
                           **{f"{m} reported": v.tolist() for m, v in reported.items()}}}


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.adapt import Fitter

    p = argparse.ArgumentParser(prog="python -m metahmr_trainer.hardpose", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=30, help="people per pose category")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refresh", action="store_true", help="render and detect again (ignore the cached split)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--checkpoint", help="ours (default: the shipped Anny checkpoint)")
    p.add_argument("--out-dir", type=Path, default=Path("results/evaluate"), help="where hardpose.json goes")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--video-frames", type=int, default=10,
                   help="frames each person is held still for the video rows (0: no video rows)")
    p.add_argument("--photos", type=Path, metavar="DIR",
                   help="instead: write one rendered photo per category (--categories) into DIR and stop")
    p.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=list(CATEGORIES), metavar="NAME",
                   help="with --photos: which categories (default: all)")
    p.add_argument("--no-network-rows", action="store_true",
                   help="leave out the network-only rows (photo and video; they ignore the landmark settings)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an adapt setting as YAML, e.g. adapt.landmark_w_2d=3 (repeatable; every row uses it)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.photos is not None:
        print("\n".join(str(w) for w in render_photos(args.categories, args.photos, args.seed)))
        return 0
    res = evaluate_hardpose(Fitter.load(args.checkpoint), args.n, args.seed, args.cache_dir, args.refresh,
                            args.video_frames, adapt_overrides(args.set), not args.no_network_rows)
    print(format_table(res["summary"]))
    write_results(res, args.out_dir)
    return 0


def adapt_overrides(settings: list[str]):
    """The AdaptConfig of `--set adapt.KEY=VALUE` settings (values as YAML, type-checked like a
    config file's); None without any."""
    if not settings:
        return None
    import yaml

    from metahmr_video.app.config import Config, override

    changes = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in settings)}
    if any(not k.startswith("adapt.") for k in changes):
        raise SystemExit(f"--set: only adapt.* settings apply here, got {', '.join(changes)}")
    return override(Config(), changes).adapt


def write_results(res: dict, out_dir: Path) -> Path:
    """res as JSON in out_dir/hardpose.json (NaN written as null)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "hardpose.json"
    path.write_text(json.dumps(res, indent=1, allow_nan=True).replace("NaN", "null"))
    return path


if __name__ == "__main__":
    raise SystemExit(main())
