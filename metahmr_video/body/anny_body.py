"""The Anny body model (PyPI `anny`, Apache-2.0 code, CC0 assets) as a small batched nn.Module.

Frames and units: Anny's own body frame is Z-up, the body facing -Y, the person's left on +X,
metres, the pelvis (root bone head) at the origin. `pose` holds one rotation per bone in Anny's
"local-ref" parameterization: bone i's rotation relative to its parent, expressed in world-aligned
axes of the rest pose; bone 0 (`Hips`) is the global orientation, pivoting about the pelvis.
`transl` is the pelvis position in the output frame (the camera frame when fitting images).
Shape is Anny's phenotype vector in [0, 1]: (gender, age, muscle, weight, height, proportions),
0.5 each being the neutral body.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import sys
import threading

from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.layout import MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.body.anny_fit import AnnyFitPath
from metahmr_video.body.base import BodyModel, RestSkeleton
from metahmr_video.body.output import BodyOutput

DEFAULT_RIG = "cmu_mb"
FIT_TOPOLOGY = "notoes_collapse10pc"
FULL_TOPOLOGY = "anny"

# MediaPipe landmark -> Anny (cmu_mb) bone whose head is the landmark (joint centres).
_JOINT_LANDMARKS = {
    "left_shoulder": "LeftArm", "right_shoulder": "RightArm",
    "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm",
    "left_wrist": "LeftHand", "right_wrist": "RightHand",
    "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg",
    "left_knee": "LeftLeg", "right_knee": "RightLeg",
    "left_ankle": "LeftFoot", "right_ankle": "RightFoot",
}

# Standard joint name -> cmu_mb bone whose head is that joint.
_STANDARD_BONES = {
    "pelvis": "Hips", "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg", "left_knee": "LeftLeg",
    "right_knee": "RightLeg", "left_ankle": "LeftFoot", "right_ankle": "RightFoot", "neck": "Neck",
    "head": "Head", "left_shoulder": "LeftArm", "right_shoulder": "RightArm",
    "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm", "left_wrist": "LeftHand",
    "right_wrist": "RightHand",
}


@contextlib.contextmanager
def anny_build_session():
    """Within the block, Anny's builds write only the models it loads to its cache (~/.cache/anny:
    5 MB for the fitting mesh, 49 MB for the full one), not their intermediates (the parsed
    MakeHuman assets, 552 MB, and the uncompacted models, 20-210 MB each); the parsed assets are
    computed once for every build of the block (a run that exports meshes builds the fitting and
    the full mesh from one parse, every rig from one parse of the rig-independent blendshapes). A
    parse also caches the phenotype blendshapes of the rigs' joint vertices (9 MB), from which a
    rig's first model is derived from another rig's cached model of the same topology without a
    parse (`anny_rig_cache`). Yields a function telling whether the block has parsed the assets
    (False in a nested block). Relies on anny 0.6's cache decorator keeping the plain function as
    `__wrapped__` (anny is pinned); without it, Anny caches as it always does."""
    import anny.models as models
    import anny.models.full_model as full_model

    from metahmr_video.body import anny_rig_cache

    build, load, compact = models.build_model_data, full_model.load_data, models.build_compact_model_data
    if getattr(load, "_in_memory", False) or not all(hasattr(f, "__wrapped__") for f in (build, load, compact)):
        yield lambda: False
        return
    parse = full_model.load_all_blendshapes
    parsed = functools.lru_cache(maxsize=None)(load.__wrapped__)

    def load_in_memory(*args, **kwargs):
        return copy.deepcopy(parsed(*args, **kwargs))  # a fresh copy per build, as from the cache

    last_parse: list = []  # [(template vertices, parsed blendshapes)]: one parse for every rig

    def parse_once(template_vertices, world_transformation, dtype):
        if not (last_parse and torch.equal(last_parse[0][0], template_vertices)):
            data = parse(template_vertices=template_vertices, world_transformation=world_transformation, dtype=dtype)
            anny_rig_cache.save_joint_blendshapes(data, anny_rig_cache.base_mesh_groups())
            last_parse[:] = [(template_vertices.clone(), data)]
        return last_parse[0][1]  # read only: each build gets its own copy from `load_in_memory`

    def compact_or_derived(**kwargs):
        path = anny_rig_cache.compact_cache_file(**kwargs)
        if not path.exists() and (data := anny_rig_cache.derive_compact_model_data(**kwargs)) is not None:
            data.save_safetensors(path)
        return compact(**kwargs)

    load_in_memory._in_memory, load_in_memory.__wrapped__ = True, load.__wrapped__
    models.build_model_data, full_model.load_data = build.__wrapped__, load_in_memory
    compact_or_derived.__wrapped__ = compact.__wrapped__
    full_model.load_all_blendshapes, models.build_compact_model_data = parse_once, compact_or_derived
    try:
        yield lambda: bool(last_parse)
    finally:
        models.build_model_data, full_model.load_data = build, load
        full_model.load_all_blendshapes, models.build_compact_model_data = parse, compact


@functools.lru_cache(maxsize=None)
def load_anny(rig: str = DEFAULT_RIG, topology: str = FIT_TOPOLOGY):
    """Build (once per process) Anny with this rig and topology, float32, on the CPU.

    The first build on a machine parses Anny's assets and caches the model under ~/.cache/anny
    (see README: minutes, once); a notice is printed to stderr if the build takes more than two
    seconds. Several builds share one parse of the assets inside `anny_build_session()`.
    """
    import anny

    notice = threading.Timer(2.0, lambda: print(
        f"metahmr-video: building the Anny body model ({rig}, {topology}); the first use on a "
        "machine parses its assets into ~/.cache/anny and takes a few minutes...", file=sys.stderr, flush=True))
    notice.start()
    try:
        with anny_build_session():
            model = anny.Anny(rig=rig, topology=topology)
    finally:
        notice.cancel()
    return model.to(torch.float32).eval()


def _select_landmark_vertices(vertices: torch.Tensor, heads: dict[str, torch.Tensor],
                              tails: dict[str, torch.Tensor]) -> dict[str, int]:
    """Pick one rest-pose vertex per surface landmark by documented geometric rules.

    vertices: [V, 3] neutral rest mesh in Anny's frame (Z-up, facing -Y, left = +X), metres.
    Face: the nose is the most forward (min Y) vertex near the mid-plane above the upper neck joint; eyes,
    mouth corners are the vertices nearest to fixed offsets from the nose; ears are the most lateral
    head vertices at eye height. Hands: thumb = nearest to the thumb bone tail, index = nearest to
    the finger-base bone tail, pinky = the hand vertex farthest from the thumb near the knuckles.
    Feet: heel = the most backward (max Y) vertex below the ankle, foot index = the most forward.
    """
    x, y, z = vertices.unbind(-1)
    chosen: dict[str, int] = {}

    def nearest(target: torch.Tensor, mask: torch.Tensor) -> int:
        d = (vertices - target).norm(dim=-1).masked_fill(~mask, float("inf"))
        return int(d.argmin())

    head_mask = z > heads["Neck1"][2]
    nose = int(torch.where(head_mask & (x.abs() < 0.02), y, torch.full_like(y, float("inf"))).argmin())
    chosen["nose"] = nose
    n = vertices[nose]
    front = head_mask & (y < n[1] + 0.06)
    for side, sx in (("left", 1.0), ("right", -1.0)):
        for name, dx in (("eye_inner", 0.015), ("eye", 0.032), ("eye_outer", 0.048)):
            chosen[f"{side}_{name}"] = nearest(n + torch.tensor([sx * dx, 0.03, 0.04]), front)
        chosen[f"mouth_{side}"] = nearest(n + torch.tensor([sx * 0.024, 0.015, -0.03]), front)
        band = head_mask & ((z - (n[2] + 0.03)).abs() < 0.02)
        chosen[f"{side}_ear"] = int(torch.where(band, sx * x, torch.full_like(x, -float("inf"))).argmax())
        pre = "Left" if side == "left" else "Right"
        thumb_tip = tails["LThumb" if side == "left" else "RThumb"]
        finger_base = tails[f"{pre}FingerBase"]
        hand = (vertices - heads[f"{pre}Hand"]).norm(dim=-1) < 0.15
        chosen[f"{side}_thumb"] = nearest(thumb_tip, hand)
        chosen[f"{side}_index"] = nearest(finger_base, hand)
        knuckles = hand & ((vertices - finger_base).norm(dim=-1) < 0.04)
        far = (vertices - thumb_tip).norm(dim=-1).masked_fill(~knuckles, -1.0)
        chosen[f"{side}_pinky"] = int(far.argmax())
        foot = (z < heads[f"{pre}Foot"][2] - 0.02) & (sx * x > 0)
        chosen[f"{side}_heel"] = int(torch.where(foot, y, torch.full_like(y, -float("inf"))).argmax())
        chosen[f"{side}_foot_index"] = int(torch.where(foot, y, torch.full_like(y, float("inf"))).argmin())
    return chosen


def anny_rest_skeleton(shape: np.ndarray, rig: str = DEFAULT_RIG, topology: str = FIT_TOPOLOGY,
                       with_mesh: bool = False) -> RestSkeleton:
    """Anny's rest skeleton with this rig and topology for one phenotype vector [6], Anny's frame
    (metres; each bone's rest frame has Y along the bone, except the root's), and its skinned mesh."""
    model = load_anny(rig, topology)
    with torch.no_grad():
        out = model(pose_parameters=None, phenotype_kwargs=torch.as_tensor(shape, dtype=torch.float32)[None],
                    return_bone_ends=True)
    weight = np.zeros(len(model.bone_labels))
    np.add.at(weight, model.vertex_bone_indices.numpy().ravel(), model.vertex_bone_weights.double().numpy().ravel())
    rest = RestSkeleton(names=list(model.bone_labels), parents=[int(p) for p in model.bone_parents],
                        heads=out["rest_bone_heads"][0].double().numpy(), tails=out["rest_bone_tails"][0].double().numpy(),
                        z_axes=out["rest_bone_poses"][0, :, :3, 2].double().numpy(), deforming=weight > 0)
    if with_mesh:
        rest.vertices = out["rest_vertices"][0].double().numpy()
        rest.faces = model.get_triangular_faces().numpy().astype(np.int64)
        rest.skin_indices = model.vertex_bone_indices.numpy().astype(np.int64)
        rest.skin_weights = model.vertex_bone_weights.double().numpy()
    return rest


class AnnyBody(BodyModel):
    """Anny, batched over people, differentiable in pose and shape; see the module docstring.

    >>> body = AnnyBody()                                  # cmu_mb rig, reduced fitting mesh
    >>> out = body(pose=torch.eye(3).expand(2, body.num_bones, 3, 3))
    >>> out.joints.shape, out.keypoints.shape              # ([2, 31, 3], [2, 33, 3])
    """

    name = "anny"
    model_id = "anny"  # what a checkpoint records as the body it was trained for
    stored_names = ("anny",)
    param_keys = ("bone_rotations", "phenotypes")
    retargetable = True
    leg_joints = (("LeftUpLeg", "LeftLeg", "LeftFoot"), ("RightUpLeg", "RightLeg", "RightFoot"))
    # An upright Anny body facing the camera: x_c = x, y_c = -z, z_c = y (OpenCV camera frame).
    cam_from_body = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    shape_center = 0.5
    shape_bounds = (0.0, 1.0)
    shape_scale = 1.0  # the unit losses measure shape differences in (see SmplBody.shape_scale)

    def __init__(self, rig: str = DEFAULT_RIG, topology: str = FIT_TOPOLOGY) -> None:
        super().__init__()
        self.rig, self.topology = rig, topology
        # A private copy, so that .to(device/dtype) on one body does not move another's model.
        self.model = copy.deepcopy(load_anny(rig, topology))
        self.bone_names: list[str] = list(self.model.bone_labels)
        self.parents: list[int] = list(self.model.bone_parents)
        self.shape_names: list[str] = list(self.model.phenotype_labels)
        rest = self.model(return_bone_ends=True)
        heads = {b: rest["bone_heads"][0, i] for i, b in enumerate(self.bone_names)}
        tails = {b: rest["bone_tails"][0, i] for i, b in enumerate(self.bone_names)}
        missing = set(_STANDARD_BONES.values()) - set(self.bone_names)
        if missing:
            raise ValueError(f"AnnyBody needs the cmu_mb bone names; rig {rig!r} lacks {sorted(missing)}")
        verts = _select_landmark_vertices(rest["vertices"][0], heads, tails)
        # Landmark i is the head of bone kp_bone[i] (>= 0) or vertex kp_vertex[i], i.e. row kp_index[i]
        # of [bone heads (J), landmark vertices (L)].
        kp_bone = [self.bone_names.index(_JOINT_LANDMARKS[n]) if n in _JOINT_LANDMARKS else -1 for n in MEDIAPIPE_33]
        self.register_buffer("kp_bone", torch.tensor(kp_bone), persistent=False)
        self.register_buffer("kp_vertex", torch.tensor([verts.get(n, -1) for n in MEDIAPIPE_33]), persistent=False)
        landmark_vertices = [verts[n] for n in MEDIAPIPE_33 if n not in _JOINT_LANDMARKS]
        kp_index, v = [], self.num_bones
        for n in MEDIAPIPE_33:
            if n in _JOINT_LANDMARKS:
                kp_index.append(self.bone_names.index(_JOINT_LANDMARKS[n]))
            else:
                kp_index.append(v)
                v += 1
        self.register_buffer("landmark_vertices", torch.tensor(landmark_vertices), persistent=False)
        self.register_buffer("kp_index", torch.tensor(kp_index), persistent=False)
        self.register_buffer("keypoint_mask", torch.ones(len(MEDIAPIPE_33)), persistent=False)
        self.fit_path = AnnyFitPath(self.model, self.landmark_vertices)
        self.standard_joint_indices = [self.bone_names.index(_STANDARD_BONES[n]) for n in STANDARD_JOINTS]

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    @property
    def joint_names(self) -> list[str]:
        """Names of `joints` (the cmu_mb bone names; a joint is its bone's head)."""
        return self.bone_names

    @property
    def num_shape(self) -> int:
        return len(self.shape_names)

    @property
    def faces(self) -> torch.Tensor:
        """[F, 3] triangle vertex indices of this topology."""
        return self.model.get_triangular_faces()

    def neutral_shape(self, batch: int = 1) -> torch.Tensor:
        """[batch, 6] the neutral phenotype (0.5 everywhere)."""
        return torch.full((batch, self.num_shape), self.shape_center, device=self.kp_bone.device)

    def sample_shape(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """[batch, 6] phenotypes of a training population: uniform in [0.1, 0.9], age in [0.4, 0.95]
        (mostly adults)."""
        shape = 0.1 + (0.9 - 0.1) * torch.rand((batch, self.num_shape), generator=generator)
        shape[:, 1] = 0.4 + (0.95 - 0.4) * torch.rand(batch, generator=generator)
        return shape

    def rest_joints(self) -> torch.Tensor:
        """[num_bones, 3] joints (metres, body frame, pelvis at the origin) of the rest pose (identity rotations) with the
        neutral shape."""
        with torch.no_grad():
            eye = torch.eye(3, device=self.kp_bone.device).expand(1, self.num_bones, 3, 3)
            return self(eye, return_vertices=False).joints[0]

    def rest_skeleton(self, shape: np.ndarray, with_mesh: bool = False, rig: str | None = None) -> RestSkeleton:
        """The rest skeleton for phenotypes `shape` [6] (see `anny_rest_skeleton`); with_mesh: the full
        mesh (13,718 vertices) and its skinning; rig: another Anny rig ("mixamo", "game_engine")."""
        return anny_rest_skeleton(shape, rig or self.rig, FULL_TOPOLOGY if with_mesh else self.topology, with_mesh)

    @classmethod
    def encode(cls, pose: np.ndarray, shape: np.ndarray) -> dict[str, np.ndarray]:
        """bone_rotations [T, J, 3, 3] (local-ref) and phenotypes [T, 6] in [0, 1], as they are."""
        return dict(bone_rotations=pose, phenotypes=shape)

    @classmethod
    def decode(cls, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return params["bone_rotations"], params["phenotypes"]

    @classmethod
    def for_results(cls, meta: dict, num_shape: int, model_path: Path | None = None) -> AnnyBody:
        return cls()

    @classmethod
    def default_skeleton(cls, num_bones: int) -> tuple[list[str], list[int]]:
        body = cls()
        return body.joint_names[:num_bones], body.parents[:num_bones]

    def forward(self, pose: torch.Tensor, shape: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, return_vertices: bool = True) -> BodyOutput:
        """Pose the body.

        pose: [B, num_bones, 3, 3] rotation matrices (local-ref, bone 0 = global orientation).
        shape: [B, 6] phenotypes in [0, 1] (default neutral). transl: [B, 3] metres, pelvis position.
        Returns joints [B, num_bones, 3] (bone heads), keypoints [B, 33, 3], vertices [B, V, 3]
        (None with return_vertices=False: then only the skeleton and the landmark vertices are
        posed, see `AnnyFitPath`, the path test-time optimisation takes).
        """
        batch = pose.shape[0]
        if shape is None:
            shape = self.neutral_shape(batch).to(pose.dtype)
        if return_vertices:
            homo = torch.zeros(batch, self.num_bones, 4, 4, dtype=pose.dtype, device=pose.device)
            homo[..., 3, 3] = 1.0
            homo = torch.cat([torch.cat([pose, homo[..., :3, 3:]], dim=-1), homo[..., 3:, :]], dim=-2)
            out = self.model(pose_parameters=homo, phenotype_kwargs=shape, return_bone_ends=True)
            joints, vertices = out["bone_heads"], out["vertices"]
            landmarks = vertices[:, self.landmark_vertices]
        else:
            joints, landmarks = self.fit_path(pose, shape)
            vertices = None
        offset = -joints[:, :1]
        if transl is not None:
            offset = offset + transl[:, None]
        keypoints = torch.cat([joints, landmarks], 1)[:, self.kp_index] + offset
        return BodyOutput(joints=joints + offset, keypoints=keypoints,
                          vertices=None if vertices is None else vertices + offset)
