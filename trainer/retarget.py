"""Motion carried between skeletons: the motion prior's frame, inverse kinematics, and the motion prior
(written for Anny's cmu_mb rig) carried to any other body model (SMPL, SMPL-X).

The prior's frame is Anny's: Z up, the body facing -Y, its left on +X. A body model states its own
frame through `cam_from_body` (the rotation that stands it up facing the camera), so a rotation about
the prior frame's axes becomes one in the body's frame by conjugation (`prior_to_body`).

`fit_pose` (IK) finds a body's pose whose 15 standard joints match given points (body frame, metres,
pelvis at the origin), or whose segment directions match those of given joints and keypoints: Adam
on 6D rotations from a root rotation aligned on the torso, with a small pull toward the rest pose
(for what the targets do not see, such as twists).

`RetargetedPrior` carries the motion prior to another skeleton: Anny is posed by `MotionPrior`
(upright), its standard joints and keypoints are turned into the body's frame, and the body is fitted
by IK to the directions of its limbs, spine, hip and shoulder axes, head, hands and feet (directions,
not positions: the skeletons' proportions differ). This builds a bank of poses once per body model
(seeded; kept in the cache by `motion_prior`); `sample` draws from it. `RetargetedPrior.residual_deg` reports how closely the
fitted skeleton follows Anny's: the mean angle between their limb/spine directions.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from metahmr_video.core.layout import MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.core.paths import cache_dir
from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle, rotmat_to_sixd, sixd_to_rotmat

log = logging.getLogger("metahmr_video.trainer")

# The prior's frame (Anny's axes) -> camera frame for an upright person facing the camera.
CAM_FROM_PRIOR = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# Standard-joint pairs (indices into STANDARD_JOINTS) whose lengths measure a skeleton's size.
LIMB_EDGES = [(0, 1), (1, 3), (3, 5), (0, 2), (2, 4), (4, 6), (9, 11), (11, 13), (10, 12), (12, 14)]
TORSO = [0, 1, 2, 7, 9, 10]  # pelvis, hips, neck, shoulders: they fix the root rotation


def body_from_prior(body) -> torch.Tensor:
    """[3, 3] the rotation taking prior-frame coordinates to `body`'s frame."""
    return body.cam_from_body.T @ CAM_FROM_PRIOR


def prior_to_body(body, rot: torch.Tensor) -> torch.Tensor:
    """Rotations [..., 3, 3] about the prior frame's axes as rotations in `body`'s frame."""
    a = body_from_prior(body)
    if torch.equal(a, torch.eye(3)):
        return rot
    return a @ rot @ a.T


def skeleton_size(std_joints: np.ndarray | torch.Tensor) -> float:
    """Mean limb length (metres) of standard joints [..., 15, 3] (averaged over leading axes)."""
    p = torch.as_tensor(std_joints, dtype=torch.float64)
    return float(torch.stack([(p[..., a, :] - p[..., b, :]).norm(dim=-1).mean() for a, b in LIMB_EDGES]).mean())


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation R minimising ||R a_i - b_i|| (a, b: [K,3] centred)."""
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1, 1, d]) @ vt


def _segments() -> tuple[list[tuple[int, int]], list[float]]:
    """Segments for direction matching, as index pairs into [15 standard joints, 33 keypoints], and
    their weights: the limbs, the spine and neck, the hip-to-hip and shoulder-to-shoulder axes
    (1.0); the feet, hands and head from surface keypoints (0.5)."""
    std = {n: i for i, n in enumerate(STANDARD_JOINTS)}
    kp = {n: len(STANDARD_JOINTS) + i for i, n in enumerate(MEDIAPIPE_33)}
    body = [("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"), ("pelvis", "neck"), ("neck", "head")]
    for s in ("left", "right"):
        body += [(f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"), (f"{s}_shoulder", f"{s}_elbow"),
                 (f"{s}_elbow", f"{s}_wrist")]
    pairs = [(std[a], std[b]) for a, b in body]
    surface = [(std["head"], kp["nose"]), (kp["right_ear"], kp["left_ear"])]
    for s in ("left", "right"):
        surface += [(std[f"{s}_ankle"], kp[f"{s}_foot_index"]), (std[f"{s}_ankle"], kp[f"{s}_heel"]),
                    (std[f"{s}_wrist"], kp[f"{s}_index"]), (std[f"{s}_wrist"], kp[f"{s}_pinky"]),
                    (std[f"{s}_wrist"], kp[f"{s}_thumb"])]
    return pairs + surface, [1.0] * len(pairs) + [0.5] * len(surface)


SEGMENTS, SEGMENT_WEIGHTS = _segments()
NUM_BODY_SEGMENTS = SEGMENT_WEIGHTS.count(1.0)


def segment_directions(points: torch.Tensor) -> torch.Tensor:
    """Unit directions [..., S, 3] of SEGMENTS from points [..., 48, 3] (standard joints, keypoints)."""
    a, b = zip(*SEGMENTS)
    d = points[..., list(b), :] - points[..., list(a), :]
    return d / d.norm(dim=-1, keepdim=True).clamp(min=1e-6)


def fit_pose(body, joints: np.ndarray | torch.Tensor, keypoints: torch.Tensor | None = None,
             iters: int = 300, lr: float = 0.05) -> tuple[torch.Tensor, float]:
    """IK: pose [F, num_bones, 3, 3] (neutral shape) of `body` matching `joints` [F, 15, 3] (its
    standard joints; body frame, metres, pelvis at the origin).

    Without `keypoints`: the joint positions are matched (the caller scales them to the body).
    With `keypoints` [F, 33, 3] (same frame): the directions of SEGMENTS are matched instead, which
    does not depend on the two skeletons' proportions (segments through landmarks the body lacks,
    `keypoint_mask`, are left out). Returns (pose, mean residual: metres for positions, degrees
    between the limb/spine directions for directions)."""
    F = joints.shape[0]
    sj = body.standard_joint_indices
    rest = body.rest_joints()[sj]
    rest = (rest - rest[:1]).numpy()
    target = np.asarray(joints, dtype=np.float64)
    init = np.stack([_kabsch(rest[TORSO], target[f, TORSO] - target[f, 0]) for f in range(F)])
    six = rotmat_to_sixd(torch.eye(3).expand(F, body.num_bones, 3, 3)).clone()
    six[:, 0] = rotmat_to_sixd(torch.as_tensor(init, dtype=torch.float32))
    six.requires_grad_(True)
    tgt = torch.as_tensor(joints, dtype=torch.float32)
    if keypoints is not None:
        tgt_dir = segment_directions(torch.cat([tgt, torch.as_tensor(keypoints, dtype=torch.float32)], 1))
        defined = torch.cat([torch.ones(len(STANDARD_JOINTS)), body.keypoint_mask.cpu()])
        w = torch.tensor(SEGMENT_WEIGHTS) * torch.tensor([float(defined[a] * defined[b]) for a, b in SEGMENTS])
    opt = torch.optim.Adam([six], lr=lr)
    eye6 = rotmat_to_sixd(torch.eye(3))

    def residual(pose, final=False):
        out = body(pose, return_vertices=False)
        root = out.joints[:, :1]
        if keypoints is None:
            return (out.joints[:, sj] - root - tgt).norm(dim=-1).mean()
        d = segment_directions(torch.cat([out.joints[:, sj], out.keypoints], 1))
        if final:  # mean angle between the limb/spine directions, degrees
            cos = (d * tgt_dir).sum(-1)[:, :NUM_BODY_SEGMENTS].clamp(-1, 1)
            return torch.rad2deg(torch.arccos(cos)).mean()
        return ((d - tgt_dir).norm(dim=-1) * w).sum(-1).mean() / w.sum()

    for it in range(iters):
        with torch.enable_grad():  # also when called under no_grad (data sampling)
            loss = residual(sixd_to_rotmat(six)) + 1e-3 * ((six[:, 1:] - eye6) ** 2).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
        opt.step()
        if it == int(iters * 0.7):
            for gp in opt.param_groups:
                gp["lr"] = lr * 0.2
    with torch.no_grad():
        pose = sixd_to_rotmat(six)
        return pose.detach(), residual(pose, final=True).item()


class RetargetedPrior:
    """The Anny motion prior on another body model, by IK (see the module docstring).

    >>> prior = RetargetedPrior(SmplBody("SMPL_NEUTRAL.pkl"))     # bank of 16,384 poses, ~2-5 min
    >>> rotvec = prior.sample(32, torch.Generator().manual_seed(0))  # [32, 24, 3], body frame

    cache: a file that holds the bank once computed (loaded when present).
    """

    def __init__(self, body, size: int = 16384, seed: int = 0, iters: int = 100, chunk: int = 2048,
                 progress: bool = True, cache: Path | None = None) -> None:
        from metahmr_video.body import AnnyBody
        from metahmr_trainer.prior import MotionPrior

        self.body = body
        if cache is not None and cache.is_file():
            blob = torch.load(cache, weights_only=True)
            self.bank, self.residual_deg = blob["bank"], float(blob["residual_deg"])
            return
        anny = AnnyBody()
        prior = MotionPrior(anny)
        g = torch.Generator().manual_seed(seed)
        a = body_from_prior(body)
        banks, residuals = [], []
        for start in tqdm(range(0, size, chunk), desc=f"retargeting the motion prior to {body.name}",
                          disable=not progress, mininterval=5.0):
            n = min(chunk, size - start)
            with torch.no_grad():
                out = anny(axis_angle_to_rotmat(prior.sample(n, g)), return_vertices=False)
            pose, res = fit_pose(body, out.joints[:, anny.standard_joint_indices] @ a.T, out.keypoints @ a.T,
                                 iters=iters)
            banks.append(rotmat_to_axis_angle(pose))
            residuals.append(res * n)
        self.bank = torch.cat(banks)
        self.residual_deg = sum(residuals) / size
        log.info("motion prior retargeted to %s: %d poses, limb/spine directions within %.1f degrees of Anny's",
                 body.model_id, size, self.residual_deg)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"bank": self.bank, "residual_deg": self.residual_deg}, cache.with_suffix(".tmp"))
            cache.with_suffix(".tmp").replace(cache)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[batch, num_bones, 3] rotation vectors (the body's frame; root upright) drawn from the bank."""
        g = generator if generator is not None else torch.Generator().manual_seed(torch.seed() % 2**31)
        return self.bank[torch.randint(0, len(self.bank), (batch,), generator=g)]


_RETARGETED: dict[tuple, RetargetedPrior] = {}
BANK_VERSION = 1  # raise when the prior or the IK changes: cached banks are then rebuilt


def motion_prior(body, size: int = 16384):
    """The motion prior for `body`: `MotionPrior` itself for Anny's cmu_mb rig, otherwise a
    `RetargetedPrior`, built once per body model and bank size and kept in memory and in the cache
    (<cache>/priors/<model_id>-<size>-v<BANK_VERSION>.pt)."""
    from metahmr_trainer.prior import MotionPrior

    if MotionPrior.supports(body):
        return MotionPrior(body)
    key = (body.model_id, size)
    if key not in _RETARGETED:
        _RETARGETED[key] = RetargetedPrior(body, size=size, cache=cache_dir(
            "priors", f"{body.model_id}-{size}-v{BANK_VERSION}.pt"))
    return _RETARGETED[key]
