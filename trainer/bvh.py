"""Real motion from BVH files, retargeted to Anny by inverse kinematics (for evaluation only).

`read_bvh` parses a BVH file (hierarchy + motion) and runs forward kinematics: joint positions
[F, J, 3] in the file's units and axes. `fit_anny_to_joints` finds Anny cmu_mb bone rotations
(neutral shape) whose standard joints match given positions (scaled to Anny's size, up axis
detected and mapped to Anny's Z-up), by Adam on 6D rotations with a small pull toward the rest
pose for the bones the positions do not see.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from metahmr_video.layout import STANDARD_JOINTS
from metahmr_video.rotations import rotmat_to_sixd, sixd_to_rotmat

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


def to_anny_frame(std: np.ndarray, anny_rest_std: np.ndarray) -> np.ndarray:
    """Rotate so the detected up axis becomes +Z, scale to Anny's size, centre the pelvis at 0."""
    head, ankles = std[:, 8], 0.5 * (std[:, 5] + std[:, 6])
    up = (head - ankles).mean(0)
    k = int(np.argmax(np.abs(up)))
    sign = np.sign(up[k])
    if k == 1:
        m = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float) * np.array([1, sign, sign])[None]
        m = np.array([[1, 0, 0], [0, 0, -sign], [0, sign, 0]], dtype=float)
    elif k == 2:
        m = np.diag([1.0, sign, sign])
    else:
        m = np.array([[0, -sign, 0], [0, 0, -1], [sign, 0, 0]], dtype=float) if False else np.array(
            [[0, 0, -sign], [0, 1, 0], [sign, 0, 0]], dtype=float)
    x = std @ m.T
    edges = [(0, 1), (1, 3), (3, 5), (0, 2), (2, 4), (4, 6), (9, 11), (11, 13), (10, 12), (12, 14)]
    L = lambda p: np.mean([np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1).mean() for a, b in edges])
    x = x * (L(anny_rest_std) / L(x))
    return x - x[:, :1]


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation R minimising ||R a_i - b_i|| (a, b: [K,3] centred)."""
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1, 1, d]) @ vt


def fit_anny_to_joints(body, target: np.ndarray, iters: int = 300, lr: float = 0.05) -> tuple[torch.Tensor, float]:
    """IK: Anny pose [F,31,3,3] (neutral shape, pelvis at 0) matching target [F,15,3] (Anny frame,
    metres, pelvis-centred). Returns (pose, mean residual in metres)."""
    F = target.shape[0]
    sj = body.standard_joint_indices
    rest = body.rest_joints()[sj].numpy()
    torso = [0, 1, 2, 7, 9, 10]
    init = np.stack([_kabsch(rest[torso] - rest[0], target[f, torso] - target[f, 0]) for f in range(F)])
    six = rotmat_to_sixd(torch.eye(3).expand(F, body.num_bones, 3, 3)).clone()
    six[:, 0] = rotmat_to_sixd(torch.as_tensor(init, dtype=torch.float32))
    six.requires_grad_(True)
    tgt = torch.as_tensor(target, dtype=torch.float32)
    opt = torch.optim.Adam([six], lr=lr)
    eye6 = rotmat_to_sixd(torch.eye(3))
    for it in range(iters):
        pose = sixd_to_rotmat(six)
        j = body(pose, return_vertices=False).joints[:, sj]
        res = (j - tgt).norm(dim=-1).mean()
        reg = ((six[:, 1:] - eye6) ** 2).sum(-1).mean()
        loss = res + 1e-3 * reg
        opt.zero_grad(); loss.backward(); opt.step()
        if it == int(iters * 0.7):
            for gp in opt.param_groups:
                gp["lr"] = lr * 0.2
    with torch.no_grad():
        pose = sixd_to_rotmat(six)
        res = (body(pose, return_vertices=False).joints[:, sj] - tgt).norm(dim=-1).mean().item()
    return pose.detach(), res


def retarget(body, motion: BvhMotion, frames: np.ndarray | None = None) -> tuple[torch.Tensor, float]:
    """Anny poses [F,31,3,3] (Anny frame, neutral shape) for the given frame indices of a BVH motion
    (all when None), by IK on the 15 standard joints; returns (pose, mean residual in metres)."""
    rest = body.rest_joints()[body.standard_joint_indices].numpy()
    target = to_anny_frame(standard_positions(motion), rest)
    return fit_anny_to_joints(body, target if frames is None else target[frames])
