"""The per-person, per-frame body record produced by the adapter and consumed by smoother and sinks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PersonBody:
    """One tracked person's body in one frame. Positions in metres, camera frame (OpenCV: x right,
    y down, z forward); image quantities in full-frame pixels.

    pose: [J, 3, 3] body-model rotations (Anny: local-ref per bone, 0 = global orientation).
    shape: [S] body-model shape (Anny: phenotypes in [0, 1]; SMPL: betas).
    transl: [3] Anny: pelvis position. joints: [J, 3]. keypoints3d: [33, 3] MediaPipe order.
    keypoints2d / keypoint_conf: [33, 2] / [33] the detector's evidence. box: [4] xyxy pixels.
    reproj_error: mean confidence-weighted pixel distance of projected keypoints to the evidence.
    fallback: adaptation diverged (NaN/inf) and the un-adapted prediction is reported.
    vertices: [V, 3] or None.
    """

    track_id: int
    frame_index: int
    time_s: float
    pose: np.ndarray
    shape: np.ndarray
    transl: np.ndarray
    joints: np.ndarray
    keypoints3d: np.ndarray
    keypoints2d: np.ndarray
    keypoint_conf: np.ndarray
    box: np.ndarray
    reproj_error: float
    fallback: bool = False
    vertices: np.ndarray | None = None
