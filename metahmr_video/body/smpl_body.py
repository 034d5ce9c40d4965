"""SMPL / SMPL-X through `smplx`, for users who supply their own licensed model files.

Frames and units: SMPL's body frame is Y-up, the body facing +Z, the person's left on +X, metres.
`pose` is [B, num_bones, 3, 3] rotation matrices: index 0 is `global_orient`, 1.. are `body_pose`
(23 joints for SMPL, 21 for SMPL-X). SMPL-X's hands, jaw and eyes stay at the pose `smplx.create`
gives them by default (hands: the model's mean hand pose; jaw, eyes: rest) and its expression at 0.

`transl` follows smplx exactly: it is added to every output point after posing, so the pelvis
(root joint) ends up at `transl + J_0(betas)`, where J_0(betas) is the pelvis of the shaped model in
its rest pose (the global rotation turns the body about the pelvis, not about the origin).
Consequently `smplx.create(path)(global_orient=..., body_pose=..., betas=..., transl=...)` (axis-angle
of our `pose`) reproduces our vertices and joints; tests check it.

Shape is `betas` [B, num_betas] in standard deviations of SMPL's shape space (0 = the mean body).
Joints are the model's kinematic joints (24 for SMPL, 55 for SMPL-X), named as in smplx. Keypoints
in MediaPipe-33 order come from those joints and from smplx's own extra-vertex points (nose, eyes,
ears, big toes, heels, fingertips); the mouth corners have no counterpart (`keypoint_mask` 0).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import torch
from smplx.joint_names import JOINT_NAMES
from smplx.lbs import batch_rigid_transform, blend_shapes, lbs
from smplx.utils import Struct

from metahmr_video.body.base import BodyModel, RestSkeleton
from metahmr_video.body.output import BodyOutput
from metahmr_video.core.errors import ModelFileError
from metahmr_video.core.layout import MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

# SMPL's 24 joints (SMPL-X shares the first 22) and their parents, the same in every model file.
_SMPL_NAMES = list(JOINT_NAMES[:22]) + ["left_hand", "right_hand"]
_SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# smplx's names of the 21 extra-vertex points it appends after the kinematic joints.
_EXTRA_NAMES = list(JOINT_NAMES[55:76])

# MediaPipe landmark -> smplx joint or extra-point name. Eye corners take the eye; mouth corners are undefined.
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
_REQUIRED = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"}


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
    except ModuleNotFoundError as exc:  # some official pickles store chumpy arrays
        raise ModelFileError(f"{path}: this model file stores {exc.name} objects; remove them with smplx's "
                             f"tools/clean_ch.py (or pip install {exc.name})") from None
    except Exception as exc:  # any unpickling/zip failure means the file is not a model file
        raise ModelFileError(f"{path}: not a readable SMPL/SMPL-X model file ({type(exc).__name__})") from None
    if not _REQUIRED <= keys:
        raise ModelFileError(f"{path}: not an SMPL/SMPL-X model file (missing {sorted(_REQUIRED - keys)})")
    return data


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (identifies the model a checkpoint was trained for)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class SmplBody(BodyModel):
    """SMPL or SMPL-X (chosen from the file's contents, any file name), batched; see the module docstring.

    >>> body = SmplBody("models/SMPL_NEUTRAL.pkl")
    >>> out = body(pose=torch.eye(3).expand(1, 24, 3, 3), shape=torch.zeros(1, 10))
    """

    # An upright SMPL body facing the camera: x_c = x, y_c = -y, z_c = -z (OpenCV camera frame).
    cam_from_body = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    shape_center = 0.0
    shape_bounds = (-5.0, 5.0)
    # Betas are standard deviations; about 4 of them span what Anny's phenotypes do over [0, 1]
    # (losses divide shape differences by this, Anny's being 1).
    shape_scale = 4.0
    stored_names = ("smpl", "smplx")
    param_keys = ("global_orient", "body_pose", "betas")
    leg_joints = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))

    def __init__(self, model_path: str | Path, num_betas: int = 10) -> None:
        super().__init__()
        import smplx

        path = Path(model_path)
        if not path.is_file():
            raise ModelFileError(f"{path}: SMPL model file not found (give the .pkl or .npz you downloaded)")
        data = _read_model_file(path)
        self.name = "smplx" if "hands_componentsl" in data else "smpl"
        self.model_path = path.resolve()
        self.file_sha256 = file_sha256(path)
        self.model_id = f"{self.name}-{self.file_sha256[:16]}"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # smplx prints notes about the shape space
                if self.name == "smpl":
                    model = smplx.SMPL(str(path), data_struct=Struct(**data), num_betas=num_betas)
                else:
                    model = smplx.SMPLX(str(path), num_betas=num_betas, ext=path.suffix.lstrip("."))
        except Exception as exc:
            raise ModelFileError(f"{path}: could not load the {self.name.upper()} model ({exc})") from None
        self.model = model.requires_grad_(False)
        self.num_body_joints = 23 if self.name == "smpl" else 21
        self.num_bones = self.num_body_joints + 1
        self.num_shape = num_betas
        self.shape_names: list[str] = []  # betas have no names
        num_joints = model.J_regressor.shape[0]
        self.joint_names = list(_SMPL_NAMES) if self.name == "smpl" else list(JOINT_NAMES[:num_joints])
        self.parents = [int(p) for p in model.parents]
        # Joints beyond the posed bones (SMPL-X hands, jaw, eyes) keep smplx.create's default pose.
        mean = getattr(model, "pose_mean", None)
        rest = torch.zeros(num_joints, 3) if mean is None else mean.reshape(num_joints, 3).float()
        self.register_buffer("fixed_rot", axis_angle_to_rotmat(rest[self.num_bones:]), persistent=False)
        # Keypoint i is kinematic joint kp_joint[i] (>= 0) or extra point kp_extra[i] (a vertex).
        extra_vertex = model.vertex_joint_selector.extra_joints_idxs
        names = {n: i for i, n in enumerate(self.joint_names)}
        kp_joint = [names.get(_MEDIAPIPE_TO_SMPL.get(n, ""), -1) for n in MEDIAPIPE_33]
        kp_extra = [_EXTRA_NAMES.index(_MEDIAPIPE_TO_SMPL[n]) if n in _MEDIAPIPE_TO_SMPL and j < 0 else -1
                    for n, j in zip(MEDIAPIPE_33, kp_joint)]
        sel = torch.tensor([int(extra_vertex[e]) for e in kp_extra if e >= 0] or [0])
        self.register_buffer("kp_joint", torch.tensor(kp_joint), persistent=False)
        self.register_buffer("keypoint_mask", torch.tensor([float(n in _MEDIAPIPE_TO_SMPL) for n in MEDIAPIPE_33]),
                             persistent=False)
        self.standard_joint_indices = [names[n] for n in STANDARD_JOINTS]
        # Keypoint i not at a joint is the vertex sel_vertex[kp_slot[i]] (undefined ones: slot 0, masked).
        slots = iter(range(len(sel)))
        self.register_buffer("kp_slot", torch.tensor([next(slots) if e >= 0 else 0 for e in kp_extra]),
                             persistent=False)
        self.register_buffer("sel_vertex", sel, persistent=False)
        # The fitting path (return_vertices=False) poses only the joints and the keypoint vertices.
        v_count = model.v_template.shape[0]
        self.register_buffer("j_template", model.J_regressor @ model.v_template, persistent=False)
        self.register_buffer("j_shapedirs", torch.einsum("jv,vcs->jcs", model.J_regressor, model.shapedirs),
                             persistent=False)
        self.register_buffer("sel_template", model.v_template[sel], persistent=False)
        self.register_buffer("sel_shapedirs", model.shapedirs[sel], persistent=False)
        self.register_buffer("sel_posedirs", model.posedirs.reshape(-1, v_count, 3)[:, sel].reshape(
            model.posedirs.shape[0], -1), persistent=False)
        self.register_buffer("sel_weights", model.lbs_weights[sel], persistent=False)

    @property
    def faces(self) -> torch.Tensor:
        """[F, 3] triangle vertex indices."""
        return self.model.faces_tensor

    def neutral_shape(self, batch: int = 1) -> torch.Tensor:
        """[batch, num_betas] zeros (the mean shape)."""
        return torch.full((batch, self.num_shape), self.shape_center, device=self.kp_joint.device)

    def sample_shape(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """[batch, num_betas] shapes of a training population: betas ~ N(0, 1) (SMPL's shape space
        has unit variance per beta), clipped to +-3."""
        return torch.randn(batch, self.num_shape, generator=generator).clamp(-3.0, 3.0)

    def rest_joints(self) -> torch.Tensor:
        """[num_joints, 3] joints (metres, body frame) of the rest pose (identity body rotations)
        with the mean shape and no translation."""
        with torch.no_grad():
            eye = torch.eye(3, device=self.kp_joint.device).expand(1, self.num_bones, 3, 3)
            return self(eye, return_vertices=False).joints[0]

    def rest_skeleton(self, shape: np.ndarray, with_mesh: bool = False) -> RestSkeleton:
        """The posed bones' rest skeleton for betas `shape` [S] (SMPL's frame, metres; the root at J_0(betas),
        `root_offset`); with_mesh: the mesh, the weights of bones not posed (SMPL-X hands, jaw, eyes)
        handed to their nearest posed ancestor, 8 influences at most per vertex."""
        m, n = self.model, self.num_bones
        betas = np.zeros(m.shapedirs.shape[-1])
        betas[:len(shape)] = shape[:len(betas)]
        v = m.v_template.double().numpy() + np.einsum("vck,k->vc", m.shapedirs.double().numpy(), betas)
        heads = (m.J_regressor.double().numpy() @ v)[:n]
        rest = RestSkeleton(names=self.joint_names[:n], parents=self.parents[:n], heads=heads,
                            root_offset=heads[0])
        if with_mesh:
            w = m.lbs_weights.double().numpy()
            owner = np.arange(w.shape[1])
            for j in range(w.shape[1]):
                a = j
                while a >= n:
                    a = self.parents[a]
                owner[j] = a
            merged = np.zeros((len(v), n))
            np.add.at(merged.T, owner, w.T)
            k = min(8, n)
            idx = np.argsort(-merged, 1)[:, :k]
            wk = np.take_along_axis(merged, idx, 1)
            keep = wk.sum(0) > 0
            idx, wk = idx[:, keep], wk[:, keep]
            rest.vertices, rest.faces = v, m.faces_tensor.numpy().astype(np.int64)
            rest.skin_indices, rest.skin_weights = idx, wk / wk.sum(1, keepdims=True)
        return rest

    @classmethod
    def encode(cls, pose: np.ndarray, shape: np.ndarray) -> dict[str, np.ndarray]:
        """global_orient [T, 3] and body_pose [T, 3 * (J - 1)] axis-angle (radians), betas [T, S]: the
        keys WHAM / 4D-Humans users know."""
        aa = rotmat_to_axis_angle(torch.from_numpy(np.ascontiguousarray(pose))).numpy()
        return dict(global_orient=aa[:, 0], body_pose=aa[:, 1:].reshape(len(aa), -1), betas=shape)

    @classmethod
    def decode(cls, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        aa = np.concatenate([params["global_orient"][:, None],
                             params["body_pose"].reshape(len(params["body_pose"]), -1, 3)], axis=1)
        return axis_angle_to_rotmat(torch.from_numpy(aa)).numpy(), params["betas"]

    @classmethod
    def for_results(cls, meta: dict, num_shape: int, model_path: Path | None = None) -> SmplBody | None:
        return None if model_path is None else cls(model_path, num_betas=num_shape)

    @classmethod
    def default_skeleton(cls, num_bones: int) -> tuple[list[str], list[int]]:
        names = _SMPL_NAMES[:num_bones] if num_bones <= len(_SMPL_NAMES) else [f"joint_{i}" for i in range(num_bones)]
        return names, _SMPL_PARENTS[:num_bones]

    def root_offset(self, shape: torch.Tensor) -> torch.Tensor:
        """[B, 3] J_0(betas): the pelvis of the shaped rest model; the posed pelvis is transl + this."""
        return self.j_template[0] + torch.einsum("cs,bs->bc", self.j_shapedirs[0], shape)

    def forward(self, pose: torch.Tensor, shape: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, return_vertices: bool = True) -> BodyOutput:
        """pose: [B, num_bones, 3, 3]; shape: [B, num_betas]; transl: [B, 3] metres (smplx semantics).
        Returns joints [B, num_joints, 3], keypoints [B, 33, 3], vertices [B, V, 3] (or None)."""
        batch = pose.shape[0]
        if shape is None:
            shape = self.neutral_shape(batch).to(pose.dtype)
        full = torch.cat([pose, self.fixed_rot.to(pose.dtype).expand(batch, -1, 3, 3)], dim=1)
        m = self.model
        if return_vertices:
            vertices, joints = lbs(shape, full, m.v_template, m.shapedirs, m.posedirs, m.J_regressor, m.parents,
                                   m.lbs_weights, pose2rot=False)
            surface = vertices[:, self.sel_vertex][:, self.kp_slot]
        else:
            vertices = None
            rest_joints = self.j_template + torch.einsum("jcs,bs->bjc", self.j_shapedirs, shape)
            joints, transforms = batch_rigid_transform(full, rest_joints, m.parents)
            eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
            pose_feature = (full[:, 1:] - eye).reshape(batch, -1)
            v = self.sel_template + blend_shapes(shape, self.sel_shapedirs) + (
                pose_feature @ self.sel_posedirs).reshape(batch, -1, 3)
            t = (self.sel_weights @ transforms.reshape(batch, -1, 16)).reshape(batch, -1, 4, 4)
            posed = (t[..., :3, :3] @ v[..., None]).squeeze(-1) + t[..., :3, 3]
            surface = posed[:, self.kp_slot]
        keypoints = torch.where((self.kp_joint >= 0)[None, :, None], joints[:, self.kp_joint.clamp(min=0)], surface)
        if transl is not None:
            joints, keypoints = joints + transl[:, None], keypoints + transl[:, None]
            vertices = None if vertices is None else vertices + transl[:, None]
        return BodyOutput(joints=joints, keypoints=keypoints, vertices=vertices)
