"""Losses, per sample (each returns [B]): L_test needs no 3D ground truth, L_train does.

2D errors are measured in box units (pixels / box side), so a loss value means the same for near
and far people. The robust 2D term is Cauchy: sigma^2 log(1 + d^2 / sigma^2), confidence-weighted.
The optional world term compares the shape of the body's landmarks with the detector's world
landmarks (centred, unit size, rotated onto each other: the detector's world frame is only roughly
camera-aligned, and the body's size is the 2D term's business): Cauchy, world-visibility-
weighted, over the body landmarks (no face).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from metahmr_video.model.features import BodyParams, Evidence, project_points

WORLD_TERM = list(range(11, 33))  # shoulders to feet: the body landmarks of MediaPipe's 33
RADIUS_M = 0.45  # RMS distance of those landmarks from their centroid, an adult standing (metres)


@dataclass
class LossConfig:
    """Weights. Test loss: 2D + pseudo target (f_u's pose/shape; 0 = no dual network) + world
    landmarks (0 = unused; sigma in metres) + shape prior.
    Train loss: root-relative 3D joints (m) + pose rotmats + shape + 2D (box units) + log-depth.
    Shape differences are divided by `shape_scale` and the prior pulls toward `shape_center`: the
    body model's own values (Anny: 1 and 0.5; SMPL: 4 and 0, see SmplBody.shape_scale)."""

    w_2d: float = 1.0
    robust_sigma: float = 0.05
    w_pseudo: float = 0.0
    w_world: float = 0.0
    world_sigma: float = 0.05
    w_shape_prior: float = 1e-3
    w_j3d: float = 1.0
    w_pose: float = 0.1
    w_shape: float = 0.1
    w_2d_train: float = 0.5
    w_depth: float = 0.1
    shape_center: float = 0.5
    shape_scale: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LossConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Target:
    """Ground truth for training (camera frame): pose [B,J,3,3], shape [B,S], transl [B,3],
    joints [B,J,3], kp2d [B,33,2] noise-free pixels."""

    pose: torch.Tensor
    shape: torch.Tensor
    transl: torch.Tensor
    joints: torch.Tensor
    kp2d: torch.Tensor

    def index(self, idx) -> "Target":
        return Target(self.pose[idx], self.shape[idx], self.transl[idx], self.joints[idx], self.kp2d[idx])


def loss_2d(pred_px: torch.Tensor, ev: Evidence, sigma: float) -> torch.Tensor:
    """Confidence-weighted robust 2D error [B] of predicted pixels [B,33,2] against ev.kp2d."""
    e = (pred_px - ev.kp2d) / ev.box_size[:, None, None]
    d2 = (e ** 2).sum(-1)
    rho = sigma ** 2 * torch.log1p(d2 / sigma ** 2)
    return (ev.conf * rho).sum(-1) / ev.conf.sum(-1).clamp(min=1e-3)


def reproj_px(pred_px: torch.Tensor, ev: Evidence) -> torch.Tensor:
    """Mean confidence-weighted pixel error [B]."""
    d = (pred_px - ev.kp2d).norm(dim=-1)
    return (ev.conf * d).sum(-1) / ev.conf.sum(-1).clamp(min=1e-3)


def rotation_onto(a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[B,3,3] rotations R minimising sum_i w_i |R a_i - b_i|^2 for centred point sets a, b [B,N,3]
    (Kabsch; roma.rigid_points_registration computes the same, but its backward-safe SVD costs
    25x more on 3x3 matrices, and this one is only used without gradient)."""
    u, _, vh = torch.linalg.svd((weights[..., None] * b).transpose(1, 2) @ a)  # sum_n w_n b_n a_n^T
    d = torch.det(u @ vh)
    return u @ torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1)) @ vh


def loss_world(keypoints: torch.Tensor, ev: Evidence, sigma: float) -> torch.Tensor:
    """Robust 3D shape error [B] of the body's landmarks [B,33,3] against ev.world: both centred
    and scaled to unit RMS radius (the size is left to the 2D and the shape prior), the world
    landmarks then rotated onto the body (a constant for the gradient); residuals in metres of a
    body of RMS radius `RADIUS_M`.
    0 for samples without world landmarks."""
    p, w = keypoints[:, WORLD_TERM], ev.world[:, WORLD_TERM]
    v = ev.world_vis[:, WORLD_TERM] * ev.has_world[:, None]
    ok = v.sum(-1) > 1e-3
    vn = torch.where(ok[:, None], v, 1.0)
    vn = vn / vn.sum(-1, keepdim=True)

    def unit(a: torch.Tensor) -> torch.Tensor:
        c = a - (vn[..., None] * a).sum(1, keepdim=True)
        return c / ((vn * (c ** 2).sum(-1)).sum(-1).clamp(min=1e-8).sqrt()[:, None, None])

    pn = unit(p)
    with torch.no_grad():
        wn = torch.where(ok[:, None, None], unit(w), pn)  # no world: aligned onto the body itself
        target = wn @ rotation_onto(wn, pn, vn).transpose(-1, -2)
    d2 = RADIUS_M ** 2 * ((pn - target) ** 2).sum(-1)
    rho = sigma ** 2 * torch.log1p(d2 / sigma ** 2)
    return (v * rho).sum(-1) / v.sum(-1).clamp(min=1e-3)


def test_loss(params: BodyParams, out, ev: Evidence, cfg: LossConfig,
              pseudo: BodyParams | None = None) -> torch.Tensor:
    """L_test [B] = w_2d robust 2D + w_world robust aligned 3D + w_pseudo ||(pose, shape) - f_u's|| ^2
    + shape prior."""
    loss = cfg.w_2d * loss_2d(project_points(out.keypoints, ev), ev, cfg.robust_sigma)
    if cfg.w_world > 0:
        loss = loss + cfg.w_world * loss_world(out.keypoints, ev, cfg.world_sigma)
    loss = loss + cfg.w_shape_prior * (((params.shape - cfg.shape_center) / cfg.shape_scale) ** 2).sum(-1)
    if pseudo is not None and cfg.w_pseudo > 0:
        lp = ((params.pose - pseudo.pose.detach()) ** 2).sum((-1, -2)).mean(-1)
        lp = lp + (((params.shape - pseudo.shape.detach()) / cfg.shape_scale) ** 2).sum(-1)
        loss = loss + cfg.w_pseudo * lp
    return loss


def train_loss(params: BodyParams, out, ev: Evidence, target: Target, cfg: LossConfig) -> torch.Tensor:
    """L_train [B] with ground truth (see LossConfig)."""
    j = out.joints - out.joints[:, :1]
    jg = target.joints - target.joints[:, :1]
    loss = cfg.w_j3d * (j - jg).norm(dim=-1).mean(-1)
    loss = loss + cfg.w_pose * ((params.pose - target.pose) ** 2).sum((-1, -2)).mean(-1)
    loss = loss + cfg.w_shape * (((params.shape - target.shape) / cfg.shape_scale) ** 2).sum(-1)
    e2d = (project_points(out.keypoints, ev) - target.kp2d).norm(dim=-1) / ev.box_size[:, None]
    loss = loss + cfg.w_2d_train * e2d.mean(-1)
    loss = loss + cfg.w_depth * (torch.log(params.transl[:, 2].clamp(min=1e-2))
                                 - torch.log(target.transl[:, 2])).abs()
    return loss
