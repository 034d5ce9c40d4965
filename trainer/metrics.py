"""Joint-error metrics shared by every evaluation: the similarity alignment behind PA-MPJPE."""
from __future__ import annotations

import roma
import torch


def similarity_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """pred [N,K,3] moved onto gt [N,K,3] by the least-squares rotation, translation and scale
    (roma's registration, in float64); same units as gt, returned in pred's dtype."""
    p, g = pred.double(), gt.double()
    rot, t, scale = roma.rigid_points_registration(p, g, compute_scaling=True)
    return (scale[:, None, None] * p @ rot.transpose(1, 2) + t[:, None]).to(pred.dtype)


def pa_errors(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-joint distance [N,K] after similarity alignment (PA-MPJPE's terms), in gt's units."""
    return (similarity_align(pred, gt) - gt.to(pred.dtype)).norm(dim=-1)
