"""One-Euro filtering of rotations on the unit-quaternion manifold (per joint)."""
from __future__ import annotations

import numpy as np
import roma
import torch

from metahmr_video.smooth.one_euro import OneEuroFilter


class RotationFilter:
    """Filters [J, 3, 3] rotation matrices over time.

    Rotations become unit quaternions, each flipped to the hemisphere of the previous filtered
    quaternion (q and -q are the same rotation), filtered by a One-Euro filter whose speed is the
    quaternion's rate of change (about half the angular speed in rad/s), and re-normalised.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.3, d_cutoff: float = 1.0, lead: float = 0.0) -> None:
        self.filter = OneEuroFilter(min_cutoff, beta, d_cutoff, speed_norm_axis=-1, lead=lead)
        self.last: np.ndarray | None = None

    def __call__(self, rotmats: np.ndarray, t: float, weight: float = 1.0) -> np.ndarray:
        """Filter [J, 3, 3] rotations taken at `t` (seconds), counted with `weight` in [0, 1]."""
        q = roma.rotmat_to_unitquat(torch.as_tensor(rotmats, dtype=torch.float64)).numpy()
        if self.last is not None:
            q = np.where((q * self.last).sum(-1, keepdims=True) < 0, -q, q)
        q = self.filter(q, t, weight)
        q /= np.linalg.norm(q, axis=-1, keepdims=True)
        self.last = q
        return roma.unitquat_to_rotmat(torch.from_numpy(q)).numpy().astype(np.float32)
