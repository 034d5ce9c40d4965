"""A procedural motion prior for the Anny cmu_mb rig.

Axes. Anny's local-ref rotations are expressed in the rest pose's world-aligned axes: X = the
body's left, Y = backwards, Z = up. In these axes (all measured on the rest pose):
  hip flexion (thigh forward)      = negative rotation about X      knee flexion  = positive about X
  left-arm raise sideways          = negative about Y (right: +Y)   arm forward   = negative about X
  spine forward bend               = positive about X               elbow flexion = about cross(upper-arm, forward)
  leg abduction: left = negative about Y, right = positive about Y; twists are about Z.

Sampling. Each sample draws one activity (weights in `ACTIVITIES`): walking and running
(a gait phase drives antiphase hip swing, knee flexion in swing, counter-swinging arms with bent
elbows, torso lean for running), reaching (one or two arms towards a random direction, spine bend
and twist toward it), sitting and crouching (strong hip and knee flexion, upright or leaning
torso), and free poses (every degree of freedom uniform within its anatomical range). Then
Gaussian jitter (0.08 rad) on every degree of freedom, left/right mirroring half of the time, and
clamping to the anatomical limits in `LIMITS` (radians, per bone and axis). Global orientation:
upright with any heading (yaw uniform), a forward/backward/lateral lean of a few degrees, and
5% bending/lying poses (lean up to 80 degrees).
"""
from __future__ import annotations

import math

import torch

# (min, max) per axis (x, y, z) in radians, for the LEFT side (right side mirrored: y, z negated).
LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    "LowerBack": ((-0.3, 0.5), (-0.3, 0.3), (-0.3, 0.3)),
    "Spine": ((-0.3, 0.5), (-0.3, 0.3), (-0.35, 0.35)),
    "Spine1": ((-0.3, 0.5), (-0.3, 0.3), (-0.35, 0.35)),
    "Neck": ((-0.4, 0.6), (-0.4, 0.4), (-0.6, 0.6)),
    "Neck1": ((-0.3, 0.4), (-0.3, 0.3), (-0.5, 0.5)),
    "Head": ((-0.4, 0.5), (-0.3, 0.3), (-0.5, 0.5)),
    "LeftShoulder": ((-0.2, 0.2), (-0.3, 0.15), (-0.25, 0.25)),
    "LeftArm": ((-2.9, 0.9), (-1.9, 0.6), (-1.2, 1.2)),
    "LeftForeArm": ((0.0, 2.5),),  # elbow: flexion only, about its own axis
    "LeftHand": ((-0.8, 0.8), (-0.4, 0.4), (-0.8, 0.8)),
    "LeftUpLeg": ((-2.2, 0.5), (-0.9, 0.4), (-0.6, 0.6)),
    "LeftLeg": ((0.0, 2.5), (0.0, 0.0), (-0.2, 0.2)),
    "LeftFoot": ((-0.6, 0.7), (-0.3, 0.3), (-0.3, 0.3)),
}
ACTIVITIES = {"walk": 0.25, "run": 0.15, "reach": 0.2, "sit": 0.1, "crouch": 0.05, "free": 0.25}
JITTER = 0.08


def _u(g, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=g)


class MotionPrior:
    """Samples [B, 31, 3] rotation vectors (Anny cmu_mb local-ref axes) from the documented prior."""

    def __init__(self, body) -> None:
        self.names = list(body.joint_names)
        self.idx = {n: i for i, n in enumerate(self.names)}
        j = body.rest_joints()
        self.elbow_axis = {}
        for side in ("Left", "Right"):
            u = j[self.idx[f"{side}ForeArm"]] - j[self.idx[f"{side}Arm"]]
            ax = torch.linalg.cross(u, torch.tensor([0.0, -1.0, 0.0]))
            self.elbow_axis[side] = ax / ax.norm()

    @staticmethod
    def supports(body) -> bool:
        """Whether `body` has the bones this prior is written for (Anny's cmu_mb rig)."""
        bones = set(LIMITS) | {b.replace("Left", "Right") for b in LIMITS if b.startswith("Left")}
        return bones <= set(body.joint_names)

    def _limits(self, bone: str):
        side = "Left" if bone.startswith("Left") else "Right" if bone.startswith("Right") else None
        key = bone.replace("Right", "Left") if side else bone
        lim = torch.tensor(LIMITS[key])
        if side == "Right" and lim.shape[0] == 3:
            lim = torch.stack([lim[0], -lim[1].flip(0), -lim[2].flip(0)])
        return lim

    def sample(self, batch: int, generator: torch.Generator | None = None,
               activity: str | None = None) -> torch.Tensor:
        g = generator if generator is not None else torch.Generator().manual_seed(torch.seed() % 2**31)
        B = batch
        # dof[bone] = [B,3] for ball joints; elbows keep a [B] flexion angle.
        dof = {b: torch.zeros(B, 3) for b in LIMITS}
        dof.update({b.replace("Left", "Right"): torch.zeros(B, 3) for b in LIMITS if b.startswith("Left")})
        elbow = {"Left": torch.zeros(B), "Right": torch.zeros(B)}
        names = list(ACTIVITIES)
        if activity is None:
            act = torch.multinomial(torch.tensor(list(ACTIVITIES.values())), B, replacement=True, generator=g)
        else:
            act = torch.full((B,), names.index(activity))
        for k, name in enumerate(names):
            m = act == k
            n = int(m.sum())
            if n:
                getattr(self, f"_{name}")(g, n, m, dof, elbow)
        # jitter, random mirroring, limits
        for b in dof:
            dof[b] = dof[b] + JITTER * torch.randn(B, 3, generator=g)
        for s in ("Left", "Right"):
            elbow[s] = elbow[s] + JITTER * torch.randn(B, generator=g)
        mirror = torch.rand(B, generator=g) < 0.5
        for b in list(dof):
            if b.startswith("Left"):
                rb = b.replace("Left", "Right")
                lm, rm = dof[b].clone(), dof[rb].clone()
                flip = torch.tensor([1.0, -1.0, -1.0])
                dof[b] = torch.where(mirror[:, None], rm * flip, lm)
                dof[rb] = torch.where(mirror[:, None], lm * flip, rm)
        el, er = elbow["Left"].clone(), elbow["Right"].clone()
        elbow["Left"], elbow["Right"] = torch.where(mirror, er, el), torch.where(mirror, el, er)
        rotvec = torch.zeros(B, len(self.names), 3)
        for b, v in dof.items():
            lim = self._limits(b)
            if lim.shape[0] == 3:
                v = torch.maximum(torch.minimum(v, lim[:, 1]), lim[:, 0])
            rotvec[:, self.idx[b]] = v
        for s in ("Left", "Right"):
            lim = self._limits(f"{s}ForeArm")
            a = elbow[s].clamp(float(lim[0, 0]), float(lim[0, 1]))
            rotvec[:, self.idx[f"{s}ForeArm"]] = a[:, None] * self.elbow_axis[s]
        return rotvec

    # --- activities: each writes its rows (mask m, n of them) into dof / elbow -------------------
    def _gait(self, g, n, m, dof, elbow, hip_amp, knee_amp, arm_amp, elbow_rng, lean):
        ph = _u(g, n, 0, 2 * math.pi)
        a = _u(g, n, *hip_amp)
        for side, off in (("Left", 0.0), ("Right", math.pi)):
            p = ph + off
            dof[f"{side}UpLeg"][m, 0] = -a * torch.sin(p) - 0.1
            dof[f"{side}Leg"][m, 0] = 0.1 + _u(g, n, *knee_amp) * torch.clamp(torch.sin(p + 1.2), min=0) ** 1.5
            dof[f"{side}Foot"][m, 0] = 0.25 * torch.sin(p + 0.5)
            dof[f"{side}Arm"][m, 0] = _u(g, n, *arm_amp) * torch.sin(p)  # counter-swing: arm back when leg forward
            dof[f"{side}Arm"][m, 1] = (0.25 if side == "Left" else -0.25)
            elbow[side][m] = _u(g, n, *elbow_rng) + 0.2 * torch.sin(p + math.pi)
        lean_v = _u(g, n, *lean)
        for b in ("LowerBack", "Spine", "Spine1"):
            dof[b][m, 0] = lean_v / 3
            dof[b][m, 2] = 0.08 * torch.sin(ph)

    def _walk(self, g, n, m, dof, elbow):
        self._gait(g, n, m, dof, elbow, (0.25, 0.55), (0.6, 1.1), (0.15, 0.45), (0.1, 0.5), (-0.05, 0.15))

    def _run(self, g, n, m, dof, elbow):
        self._gait(g, n, m, dof, elbow, (0.5, 1.0), (1.2, 2.1), (0.4, 0.9), (1.1, 1.7), (0.1, 0.45))

    def _reach(self, g, n, m, dof, elbow):
        both = torch.rand(n, generator=g) < 0.3
        fwd, side_ = _u(g, n, -2.8, 0.2), _u(g, n, -1.8, 0.3)
        dof["LeftArm"][m, 0], dof["LeftArm"][m, 1], dof["LeftArm"][m, 2] = fwd, side_, _u(g, n, -0.8, 0.8)
        elbow["Left"][m] = _u(g, n, 0.0, 1.3)
        other_f, other_s = _u(g, n, -0.4, 0.4), _u(g, n, -0.2, 0.4)
        dof["RightArm"][m, 0] = torch.where(both, _u(g, n, -2.8, 0.2), other_f)
        dof["RightArm"][m, 1] = torch.where(both, -_u(g, n, -1.8, 0.3), -other_s)
        elbow["Right"][m] = _u(g, n, 0.0, 1.5)
        bend, twist = _u(g, n, -0.1, 0.9), _u(g, n, -0.6, 0.6)
        for b in ("LowerBack", "Spine", "Spine1"):
            dof[b][m, 0] = bend / 3
            dof[b][m, 2] = twist / 3
            dof[b][m, 1] = _u(g, n, -0.1, 0.1)
        stance = _u(g, n, 0.0, 0.5)
        for s in ("Left", "Right"):
            dof[f"{s}UpLeg"][m, 0] = -stance * _u(g, n, 0.3, 1.0)
            dof[f"{s}Leg"][m, 0] = stance * _u(g, n, 0.5, 1.5)

    def _sit(self, g, n, m, dof, elbow):
        for s, sg in (("Left", 1.0), ("Right", -1.0)):
            dof[f"{s}UpLeg"][m, 0] = -_u(g, n, 1.2, 1.8)
            dof[f"{s}UpLeg"][m, 1] = -sg * _u(g, n, 0.0, 0.4)
            dof[f"{s}Leg"][m, 0] = _u(g, n, 1.1, 1.9)
            dof[f"{s}Arm"][m, 0] = _u(g, n, -1.2, 0.2)
            elbow[s][m] = _u(g, n, 0.2, 1.8)
        for b in ("LowerBack", "Spine", "Spine1"):
            dof[b][m, 0] = _u(g, n, -0.1, 0.25)

    def _crouch(self, g, n, m, dof, elbow):
        for s, sg in (("Left", 1.0), ("Right", -1.0)):
            dof[f"{s}UpLeg"][m, 0] = -_u(g, n, 1.4, 2.2)
            dof[f"{s}UpLeg"][m, 1] = -sg * _u(g, n, 0.0, 0.6)
            dof[f"{s}Leg"][m, 0] = _u(g, n, 1.6, 2.4)
            dof[f"{s}Foot"][m, 0] = -_u(g, n, 0.0, 0.5)
            dof[f"{s}Arm"][m, 0] = _u(g, n, -1.8, 0.0)
            elbow[s][m] = _u(g, n, 0.0, 2.0)
        for b in ("LowerBack", "Spine", "Spine1"):
            dof[b][m, 0] = _u(g, n, 0.0, 0.45)

    def _free(self, g, n, m, dof, elbow):
        for b in dof:
            lim = self._limits(b)
            if lim.shape[0] != 3:
                continue
            v = lim[:, 0] + (lim[:, 1] - lim[:, 0]) * torch.rand(n, 3, generator=g)
            dof[b][m] = v * (0.7 if b in ("LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head") else 1.0)
        for s in ("Left", "Right"):
            elbow[s][m] = _u(g, n, 0.0, 2.3)


def sample_global_orientation(batch: int, generator: torch.Generator) -> torch.Tensor:
    """[B,3] root rotation vectors in Anny's frame: any heading, small lean, 5% bending/lying."""
    from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
    g = generator
    yaw = _u(g, batch, -math.pi, math.pi)
    big = torch.rand(batch, generator=g) < 0.05
    pitch = torch.where(big, _u(g, batch, -1.4, 1.4), 0.08 * torch.randn(batch, generator=g))
    roll = torch.where(big, _u(g, batch, -0.5, 0.5), 0.05 * torch.randn(batch, generator=g))
    rz = axis_angle_to_rotmat(torch.stack([torch.zeros_like(yaw), torch.zeros_like(yaw), yaw], -1))
    rx = axis_angle_to_rotmat(torch.stack([pitch, torch.zeros_like(yaw), torch.zeros_like(yaw)], -1))
    ry = axis_angle_to_rotmat(torch.stack([torch.zeros_like(yaw), roll, torch.zeros_like(yaw)], -1))
    return rotmat_to_axis_angle(rz @ rx @ ry)
