"""SMPL / SMPL-X through `smplx`, for users who supply their own licensed model files.

Frames and units: SMPL's body frame is Y-up, the body facing +Z, metres. `pose` is [B, J, 3, 3]
rotation matrices: index 0 is `global_orient`, 1..J-1 are `body_pose` (23 joints for SMPL, 21 for
SMPL-X; SMPL-X hands, jaw and eyes stay at their rest pose). `transl` is added to every point, as
in smplx (so it is not the pelvis position). Shape is `betas` [B, num_betas].
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from smplx.joint_names import JOINT_NAMES
from smplx.utils import Struct
from torch import nn

from metahmr_video.layout import MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.body.output import BodyOutput
from metahmr_video.errors import ModelFileError

# Names of smplx's SMPL output joints: 24 kinematic joints, then its vertex-selected extras.
_SMPL_OUTPUT_NAMES = list(JOINT_NAMES[:22]) + ["left_hand", "right_hand"] + list(JOINT_NAMES[55:76])

# MediaPipe landmark -> smplx joint name. Eye corners take the eye; mouth corners are undefined.
_MEDIAPIPE_TO_SMPL = {
    "nose": "nose", "left_eye_inner": "left_eye", "left_eye": "left_eye", "left_eye_outer": "left_eye",
    "right_eye_inner": "right_eye", "right_eye": "right_eye", "right_eye_outer": "right_eye",
    "left_ear": "left_ear", "right_ear": "right_ear",
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow", "left_wrist": "left_wrist",
    "right_wrist": "right_wrist", "left_pinky": "left_pinky", "right_pinky": "right_pinky",
    "left_index": "left_index", "right_index": "right_index", "left_thumb": "left_thumb",
    "right_thumb": "right_thumb", "left_hip": "left_hip", "right_hip": "right_hip",
    "left_knee": "left_knee", "right_knee": "right_knee", "left_ankle": "left_ankle",
    "right_ankle": "right_ankle", "left_heel": "left_heel", "right_heel": "right_heel",
    "left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe",
}
_STANDARD_TO_SMPL = {"neck": "neck", "head": "head", "pelvis": "pelvis"}


def _read_model_file(path: Path) -> dict:
    """The arrays of an SMPL/SMPL-X model file (.pkl as distributed, or .npz)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=True) as npz:
                data = dict(npz)
        else:
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")
        keys = set(data)
    except Exception as exc:  # any unpickling/zip failure means the file is not a model file
        raise ModelFileError(f"{path}: not a readable SMPL/SMPL-X model file ({type(exc).__name__})") from None
    required = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"}
    if not required <= keys:
        raise ModelFileError(f"{path}: not an SMPL/SMPL-X model file (missing {sorted(required - keys)})")
    return data


class SmplBody(nn.Module):
    """SMPL or SMPL-X (chosen from the file's contents), batched; see the module docstring.

    >>> body = SmplBody("models/SMPL_NEUTRAL.pkl")
    >>> out = body(pose=torch.eye(3).expand(1, 24, 3, 3), shape=torch.zeros(1, 10))
    """

    def __init__(self, model_path: str | Path, num_betas: int = 10) -> None:
        super().__init__()
        import smplx

        path = Path(model_path)
        if not path.is_file():
            raise ModelFileError(f"{path}: SMPL model file not found (give the .pkl or .npz you downloaded)")
        data = _read_model_file(path)
        self.name = "smplx" if "hands_componentsl" in data else "smpl"
        try:
            if self.name == "smpl":
                self.model = smplx.SMPL(str(path), data_struct=Struct(**data), num_betas=num_betas)
            else:
                self.model = smplx.SMPLX(str(path), num_betas=num_betas, use_pca=False,
                                         ext=path.suffix.lstrip("."))
        except Exception as exc:
            raise ModelFileError(f"{path}: could not load the {self.name.upper()} model ({exc})") from None
        if self.name == "smpl":
            names = _SMPL_OUTPUT_NAMES
            self.num_body_joints = 23
        else:
            names = list(JOINT_NAMES)
            self.num_body_joints = 21
        self.joint_names = names
        kp = [names.index(_MEDIAPIPE_TO_SMPL.get(n, "pelvis")) for n in MEDIAPIPE_33]
        self.register_buffer("kp_index", torch.tensor(kp), persistent=False)
        self.register_buffer("keypoint_mask", torch.tensor(
            [float(n in _MEDIAPIPE_TO_SMPL) for n in MEDIAPIPE_33]), persistent=False)
        self.standard_joint_indices = [names.index(_STANDARD_TO_SMPL.get(n, n)) for n in STANDARD_JOINTS]
        self.num_shape = num_betas
        self.num_bones = self.num_body_joints + 1

    @property
    def faces(self) -> torch.Tensor:
        """[F, 3] triangle vertex indices."""
        return self.model.faces_tensor

    def neutral_shape(self, batch: int = 1) -> torch.Tensor:
        """[batch, num_betas] zeros (the mean shape)."""
        return torch.zeros(batch, self.num_shape, device=self.kp_index.device)

    def rest_joints(self) -> torch.Tensor:
        """[K, 3] joints (metres, body frame) of the rest pose (identity rotations) with the
        neutral shape."""
        with torch.no_grad():
            eye = torch.eye(3, device=self.kp_index.device).expand(1, self.num_bones, 3, 3)
            return self(eye, return_vertices=False).joints[0]

    def forward(self, pose: torch.Tensor, shape: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, return_vertices: bool = True) -> BodyOutput:
        """pose: [B, num_bones, 3, 3]; shape: [B, num_betas]; transl: [B, 3] metres (smplx semantics)."""
        batch = pose.shape[0]
        if shape is None:
            shape = self.neutral_shape(batch).to(pose.dtype)
        flat = pose.reshape(batch, -1, 9)
        kwargs = {}
        if self.name == "smplx":
            eye = torch.eye(3, dtype=pose.dtype, device=pose.device).reshape(1, 1, 9)
            kwargs = dict(left_hand_pose=eye.expand(batch, 15, 9), right_hand_pose=eye.expand(batch, 15, 9),
                          jaw_pose=eye.expand(batch, 1, 9), leye_pose=eye.expand(batch, 1, 9),
                          reye_pose=eye.expand(batch, 1, 9),
                          expression=torch.zeros(batch, self.model.num_expression_coeffs,
                                                 dtype=pose.dtype, device=pose.device))
        out = self.model(global_orient=flat[:, :1], body_pose=flat[:, 1:], betas=shape,
                         transl=transl if transl is not None else torch.zeros(batch, 3, dtype=pose.dtype, device=pose.device),
                         pose2rot=False, **kwargs)
        joints = out.joints
        return BodyOutput(joints=joints, keypoints=joints[:, self.kp_index],
                          vertices=out.vertices if return_vertices else None)
