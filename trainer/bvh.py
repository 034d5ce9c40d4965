"""Real motion from BVH files, retargeted to a body model by inverse kinematics (for evaluation only).

`read_bvh` parses a BVH file (hierarchy + motion) and runs forward kinematics: joint positions
[F, J, 3] in the file's units and axes. `retarget` finds the body's rotations (neutral shape) whose
standard joints match those positions (up axis detected, scaled to the body's size, turned into
its frame) with `metahmr_trainer.retarget.fit_pose`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.layout import STANDARD_JOINTS
from metahmr_trainer.retarget import body_from_prior, fit_pose, skeleton_size

# BVH joint name (lower-cased) -> standard joint name, for the naming schemes of the bvhtools clips.
BVH_TO_STANDARD = {
    "hips": "pelvis", "pelvis": "pelvis",
    "leftupleg": "left_hip", "thigh.l": "left_hip", "rightupleg": "right_hip", "thigh.r": "right_hip",
    "leftleg": "left_knee", "shin.l": "left_knee", "rightleg": "right_knee", "shin.r": "right_knee",
    "leftfoot": "left_ankle", "foot.l": "left_ankle", "rightfoot": "right_ankle", "foot.r": "right_ankle",
    "neck": "neck", "head": "head", "face": "head",
    "leftarm": "left_shoulder", "upper_arm.l": "left_shoulder", "rightarm": "right_shoulder",
    "upper_arm.r": "right_shoulder", "leftforearm": "left_elbow", "forearm.l": "left_elbow",
    "rightforearm": "right_elbow", "forearm.r": "right_elbow", "lefthand": "left_wrist",
    "forearm.l_end": "left_wrist", "righthand": "right_wrist", "forearm.r_end": "right_wrist",
}


@dataclass
class BvhMotion:
    names: list[str]
    parents: list[int]
    positions: np.ndarray  # [F, J, 3] file units/axes
    frame_time: float


def _axis_rot(axis: str, deg: np.ndarray) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == "Y":
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.stack([np.stack(r, -1) for r in m], -2)


def read_bvh(path: str | Path) -> BvhMotion:
    tokens = Path(path).read_text().split()
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = 0
    pending_parent = -1
    while tokens[i] != "MOTION":
        t = tokens[i]
        if t in ("ROOT", "JOINT"):
            names.append(tokens[i + 1]); parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3)); channels.append([]); i += 2; continue
        if t == "End":
            names.append(names[stack[-1]] + "_end"); parents.append(stack[-1])
            offsets.append(np.zeros(3)); channels.append([]); i += 2; continue
        if t == "{":
            stack.append(len(names) - 1)
        elif t == "}":
            stack.pop()
        elif t == "OFFSET":
            offsets[stack[-1]] = np.array([float(v) for v in tokens[i + 1:i + 4]]); i += 4; continue
        elif t == "CHANNELS":
            n = int(tokens[i + 1]); channels[stack[-1]] = tokens[i + 2:i + 2 + n]; i += 2 + n; continue
        i += 1
    frames = int(tokens[i + 2]); frame_time = float(tokens[i + 5])
    data = np.array(tokens[i + 6:], dtype=np.float64).reshape(frames, -1)
    J = len(names)
    rot = np.zeros((frames, J, 3, 3)); trans = np.zeros((frames, J, 3))
    col = 0
    for j in range(J):
        r = np.broadcast_to(np.eye(3), (frames, 3, 3)).copy()
        t = np.broadcast_to(offsets[j], (frames, 3)).copy()
        pos_ch = {}
        for ch in channels[j]:
            v = data[:, col]; col += 1
            if ch.endswith("rotation"):
                r = r @ _axis_rot(ch[0].upper(), v)
            else:
                pos_ch["XYZ".index(ch[0].upper())] = v
        for k, v in pos_ch.items():
            t[:, k] = v
        rot[:, j], trans[:, j] = r, t
    glob_r = np.zeros_like(rot); pos = np.zeros((frames, J, 3))
    for j in range(J):
        p = parents[j]
        if p < 0:
            glob_r[:, j], pos[:, j] = rot[:, j], trans[:, j]
        else:
            glob_r[:, j] = glob_r[:, p] @ rot[:, j]
            pos[:, j] = pos[:, p] + np.einsum("fab,fb->fa", glob_r[:, p], trans[:, j])
    return BvhMotion(names, parents, pos, frame_time)


def standard_positions(motion: BvhMotion) -> np.ndarray:
    """[F, 15, 3] positions of STANDARD_JOINTS from a BVH motion (file units/axes)."""
    lower = [n.lower() for n in motion.names]
    idx = []
    for s in STANDARD_JOINTS:
        cands = [i for i, n in enumerate(lower) if BVH_TO_STANDARD.get(n) == s]
        if not cands:
            raise ValueError(f"BVH lacks a joint for {s!r}")
        idx.append(cands[0])
    return motion.positions[:, idx]


def to_body_frame(std: np.ndarray, body) -> np.ndarray:
    """Standard joints [F, 15, 3] (file units and axes) in `body`'s frame: the detected up axis
    becomes the prior frame's +Z (metahmr_trainer.retarget), the skeleton is scaled to the body's rest size,
    turned into the body's frame and centred at the pelvis."""
    head, ankles = std[:, 8], 0.5 * (std[:, 5] + std[:, 6])
    up = (head - ankles).mean(0)
    k = int(np.argmax(np.abs(up)))
    sign = np.sign(up[k])
    if k == 1:
        m = np.array([[1, 0, 0], [0, 0, -sign], [0, sign, 0]], dtype=float)
    elif k == 2:
        m = np.diag([1.0, sign, sign])
    else:
        m = np.array([[0, 0, -sign], [0, 1, 0], [sign, 0, 0]], dtype=float)
    x = std @ m.T
    rest = body.rest_joints()[body.standard_joint_indices].numpy()
    x = x * (skeleton_size(rest) / skeleton_size(x))
    a = body_from_prior(body).double().numpy()
    if not np.array_equal(a, np.eye(3)):
        x = x @ a.T
    return x - x[:, :1]


def retarget(body, motion: BvhMotion, frames: np.ndarray | None = None) -> tuple[torch.Tensor, float]:
    """Poses [F, num_bones, 3, 3] of `body` (its own frame, neutral shape) for the given frame indices
    of a BVH motion (all when None), by IK on the 15 standard joints; returns (pose, mean residual in metres)."""
    target = to_body_frame(standard_positions(motion), body)
    return fit_pose(body, target if frames is None else target[frames])
