"""Rotation conversions over batched tensors (thin, documented wrappers over roma).

Conventions: rotation matrices act on column vectors (x' = R x); the 6D representation is the
first two columns of R stacked as [..., 6] = (R[:,0], R[:,1]) (Zhou et al. 2019); axis-angle is a
rotation vector in radians.
"""
from __future__ import annotations

import roma
import torch


def sixd_to_rotmat(d6: torch.Tensor) -> torch.Tensor:
    """[..., 6] 6D rotations -> [..., 3, 3] rotation matrices (Gram-Schmidt)."""
    return roma.special_gramschmidt(d6.reshape(*d6.shape[:-1], 2, 3).transpose(-1, -2))


def rotmat_to_sixd(rotmat: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices -> [..., 6] 6D rotations (first two columns)."""
    return rotmat[..., :, :2].transpose(-1, -2).reshape(*rotmat.shape[:-2], 6)


def axis_angle_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """[..., 3] rotation vectors (radians) -> [..., 3, 3] rotation matrices."""
    return roma.rotvec_to_rotmat(rotvec)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices -> [..., 3] rotation vectors (radians, angle in [0, pi])."""
    return roma.rotmat_to_rotvec(rotmat)


def geodesic_angle(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle in radians of R1^T R2 for [..., 3, 3] rotation matrices."""
    return roma.rotmat_geodesic_distance(r1, r2)
