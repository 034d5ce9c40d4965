"""Readers for users' real training data (SMPL-family): AMASS-style sequences and SPIN/EFT-style
npz annotation files. They return plain tensors with documented shapes; training the SMPL variant of
the regressor from them is the user's next step (the default shipped model is Anny-only).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from metahmr_video.errors import InputError
from metahmr_video.rotations import axis_angle_to_rotmat


@dataclass
class SmplSequence:
    """One AMASS-style clip: pose [F,24,3,3] (SMPL body joints incl. global orientation; hands of
    SMPL-H dropped), betas [B], transl [F,3] metres (AMASS world frame, Z up), fps, gender."""

    pose: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor
    fps: float
    gender: str


def load_amass(path: str | Path) -> SmplSequence:
    """Read an AMASS npz (keys: poses [F,72+], betas, trans, mocap_framerate, gender)."""
    try:
        d = np.load(path, allow_pickle=False)
        poses, trans = d["poses"], d["trans"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not an AMASS-style npz (poses, trans, betas): {exc}") from exc
    if poses.ndim != 2 or poses.shape[1] < 66 or len(trans) != len(poses):
        raise InputError(f"{path}: poses must be [F, >=66] with one trans per frame, got {poses.shape}")
    body = np.zeros((len(poses), 72), dtype=np.float32)
    body[:, : min(72, poses.shape[1])] = poses[:, :72]
    if poses.shape[1] > 72:  # SMPL-H / SMPL-X: joints 22, 23 are hands -> keep SMPL's 24 with zero hands
        body[:, 66:] = 0.0
    fps = float(d["mocap_framerate"]) if "mocap_framerate" in d else float(d.get("mocap_frame_rate", 30.0))
    gender = str(d["gender"]) if "gender" in d else "neutral"
    return SmplSequence(pose=axis_angle_to_rotmat(torch.from_numpy(body).reshape(-1, 24, 3)),
                        betas=torch.as_tensor(d["betas"], dtype=torch.float32) if "betas" in d else torch.zeros(10),
                        transl=torch.as_tensor(trans, dtype=torch.float32), fps=fps, gender=gender)


@dataclass
class SpinAnnotations:
    """SPIN/EFT-style annotations: imgname [N] str, center [N,2] pixels, scale [N] (box side / 200
    px), keypoints2d [N,K,3] (x, y, confidence) pixels, pose [N,24,3,3] or None, betas [N,10] or
    None, joints3d [N,24,4] or None (x, y, z metres + confidence)."""

    imgname: list[str]
    center: torch.Tensor
    scale: torch.Tensor
    keypoints2d: torch.Tensor
    pose: torch.Tensor | None
    betas: torch.Tensor | None
    joints3d: torch.Tensor | None


def load_spin_npz(path: str | Path) -> SpinAnnotations:
    """Read a SPIN/EFT npz (keys imgname, center, scale, part [+ openpose], pose, shape, S)."""
    try:
        d = np.load(path, allow_pickle=False)
        names, center, scale = [str(n) for n in d["imgname"]], d["center"], d["scale"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a SPIN/EFT-style npz (imgname, center, scale, part): {exc}") from exc
    kps = [d[k] for k in ("openpose", "part") if k in d]
    if not kps:
        raise InputError(f"{path}: no 2D keypoints ('part' or 'openpose')")
    kp = np.concatenate(kps, axis=1)
    n = len(names)
    if len(center) != n or len(scale) != n or len(kp) != n:
        raise InputError(f"{path}: arrays disagree in length ({n} images)")
    pose = axis_angle_to_rotmat(torch.as_tensor(d["pose"], dtype=torch.float32).reshape(n, 24, 3)) if "pose" in d else None
    return SpinAnnotations(imgname=names, center=torch.as_tensor(center, dtype=torch.float32),
                           scale=torch.as_tensor(scale, dtype=torch.float32).reshape(n),
                           keypoints2d=torch.as_tensor(kp, dtype=torch.float32), pose=pose,
                           betas=torch.as_tensor(d["shape"], dtype=torch.float32) if "shape" in d else None,
                           joints3d=torch.as_tensor(d["S"], dtype=torch.float32) if "S" in d else None)
