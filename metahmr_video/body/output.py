"""The record a body model returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class BodyOutput:
    """Posed body, batched over people. All positions in metres, in the frame of `transl`
    (camera frame when the caller passes a camera-frame translation, else the body's own frame).

    joints: [B, J, 3] the model's skeleton joints (Anny: bone heads; SMPL: its joints + extra points).
    keypoints: [B, 33, 3] MediaPipe-33 landmarks (see `BodyModel.keypoint_mask` for which are defined).
    vertices: [B, V, 3] mesh vertices, or None when not requested.
    """

    joints: torch.Tensor
    keypoints: torch.Tensor
    vertices: torch.Tensor | None = None
