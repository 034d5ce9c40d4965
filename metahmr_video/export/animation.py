"""One track's skeleton, skinned mesh and motion, in an export frame: the common ground of the exporters.

Frames (all right-handed, metres):
- Source: the results' camera frame (OpenCV: x right, y down, z forward, camera at the origin).
- ``"y_up"`` (glTF, BVH): X right, Y up, Z towards the camera's viewer — the OpenGL camera frame, so
  the camera sits at the origin looking down -Z. A rest-pose body stands along +Y facing +Z.
- ``"z_up"`` (Blender, then FBX through Blender's exporter): X right, Y forward (the camera looks
  down +Y from the origin), Z up. A rest-pose body stands along +Z facing -Y (Blender's front view).

Rotations are "world-aligned local" rotations, the convention of BVH and of Anny's local-ref
parameterization: bone c's rotation relative to its parent, expressed in the axes of the rest pose,
so that its global rotation is G_c = G_parent @ R_c and joint positions follow
J_c = J_parent + G_parent @ (rest_c - rest_parent). The root's rotation is its global rotation and
its position is the root joint's position.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metahmr_video.core.errors import InputError
from metahmr_video.core.results import Results, TrackResult

UP_AXES = ("y_up", "z_up")

# Camera (OpenCV) -> export world.
_CAMERA_TO = {
    "y_up": np.diag([1.0, -1.0, -1.0]),
    "z_up": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}
# Body model rest frame -> export world. Anny: Z up, facing -Y. SMPL: Y up, facing +Z.
_REST_TO = {
    ("anny", "y_up"): np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    ("anny", "z_up"): np.eye(3),
    ("smpl", "y_up"): np.eye(3),
    ("smpl", "z_up"): np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
}

SMPL_BONE_NAMES = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
]
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


@dataclass
class SkinnedMesh:
    """A rest-pose mesh in the export frame: vertices [V, 3] metres, faces [F, 3], and per-vertex
    skinning influences indices [V, K] (bone indices) with weights [V, K] summing to 1."""

    vertices: np.ndarray
    faces: np.ndarray
    indices: np.ndarray
    weights: np.ndarray

    def top_k(self, k: int) -> "SkinnedMesh":
        """The same mesh keeping each vertex's k largest influences, renormalised."""
        if self.indices.shape[1] <= k:
            pad = k - self.indices.shape[1]
            return SkinnedMesh(self.vertices, self.faces, np.pad(self.indices, ((0, 0), (0, pad))),
                               np.pad(self.weights, ((0, 0), (0, pad))))
        order = np.argsort(-self.weights, axis=1)[:, :k]
        w = np.take_along_axis(self.weights, order, 1)
        w = w / w.sum(1, keepdims=True)
        return SkinnedMesh(self.vertices, self.faces, np.take_along_axis(self.indices, order, 1), w)


@dataclass
class TrackAnimation:
    """One track ready to write, in the export frame `up` (see the module docstring).

    bone_names [J], parents [J] (-1 for the root, parents before children), rest_heads / rest_tails
    [J, 3] metres (tails give the bone directions DCC tools draw), frames [T] video frame indices,
    fps the video frame rate, rotations [T, J, 3, 3] world-aligned local rotations (index 0 global),
    root_positions [T, 3] metres, mesh the skinned rest mesh or None, rest_z_axes [J, 3] each bone's
    rest Z axis as its rig defines it (its Y axis runs head -> tail; FBX bone roll) or None (roll 0).
    """

    track_id: int
    body_model: str
    up: str
    bone_names: list[str]
    parents: list[int]
    rest_heads: np.ndarray
    rest_tails: np.ndarray
    frames: np.ndarray
    fps: float
    rotations: np.ndarray
    root_positions: np.ndarray
    mesh: SkinnedMesh | None = None
    notes: list[str] = field(default_factory=list)
    rest_z_axes: np.ndarray | None = None

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    def global_rotations(self) -> np.ndarray:
        """[T, J, 3, 3] each bone's rotation from the rest pose to the posed body, export frame."""
        g = np.empty_like(self.rotations)
        for c, p in enumerate(self.parents):
            g[:, c] = self.rotations[:, c] if p < 0 else g[:, p] @ self.rotations[:, c]
        return g

    def joint_positions(self) -> np.ndarray:
        """[T, J, 3] posed joint (bone head) positions in metres, export frame: forward kinematics."""
        g = self.global_rotations()
        j = np.empty(g.shape[:2] + (3,))
        for c, p in enumerate(self.parents):
            if p < 0:
                j[:, c] = self.root_positions
            else:
                j[:, c] = j[:, p] + g[:, p] @ (self.rest_heads[c] - self.rest_heads[p])
        return j

    def contiguous(self) -> "TrackAnimation":
        """The track on every video frame from its first to its last: rotations slerped and root
        positions interpolated linearly across frames where the person was not seen."""
        full = np.arange(self.frames[0], self.frames[-1] + 1)
        if len(full) == len(self.frames):
            return self
        from scipy.spatial.transform import Rotation, Slerp

        t, num = len(full), self.num_bones
        rot = np.empty((t, num, 3, 3))
        for b in range(num):
            rot[:, b] = Slerp(self.frames, Rotation.from_matrix(self.rotations[:, b]))(full).as_matrix()
        pos = np.stack([np.interp(full, self.frames, self.root_positions[:, i]) for i in range(3)], 1)
        return TrackAnimation(self.track_id, self.body_model, self.up, self.bone_names, self.parents,
                              self.rest_heads, self.rest_tails, full, self.fps, rot, pos, self.mesh,
                              self.notes + [f"{t - len(self.frames)} unseen frames interpolated"], self.rest_z_axes)


def results_fps(results: Results) -> float:
    """The video frame rate of `results` (meta 'fps', else estimated from time stamps, else 30)."""
    fps = results.meta.get("fps")
    if fps and float(fps) > 0:
        return float(fps)
    for tr in results.tracks.values():
        if len(tr.frame_ids) > 1:
            dt = np.diff(tr.time_s) / np.maximum(np.diff(tr.frame_ids), 1)
            if np.median(dt) > 0:
                return float(1.0 / np.median(dt))
    return 30.0


def _anny_rest(shape: np.ndarray, with_mesh: bool, rig: str = "cmu_mb") -> dict[str, np.ndarray]:
    """Anny's rest skeleton (and full-topology mesh) with this rig for one phenotype vector, Anny's
    frame. Also each bone's rest Z axis (its rest frame has Y along the bone, except the root's) and
    whether it deforms the mesh."""
    import torch

    from metahmr_video.body.anny_body import FIT_TOPOLOGY, FULL_TOPOLOGY, load_anny

    model = load_anny(rig, FULL_TOPOLOGY if with_mesh else FIT_TOPOLOGY)
    with torch.no_grad():
        out = model(pose_parameters=None, phenotype_kwargs=torch.as_tensor(shape, dtype=torch.float32)[None],
                    return_bone_ends=True)
    weight = np.zeros(len(model.bone_labels))
    np.add.at(weight, model.vertex_bone_indices.numpy().ravel(), model.vertex_bone_weights.double().numpy().ravel())
    rest = dict(heads=out["rest_bone_heads"][0].double().numpy(), tails=out["rest_bone_tails"][0].double().numpy(),
                z_axes=out["rest_bone_poses"][0, :, :3, 2].double().numpy(), deforming=weight > 0,
                names=list(model.bone_labels), parents=[int(p) for p in model.bone_parents])
    if with_mesh:
        rest.update(vertices=out["rest_vertices"][0].double().numpy(),
                    faces=model.get_triangular_faces().numpy().astype(np.int64),
                    indices=model.vertex_bone_indices.numpy().astype(np.int64),
                    weights=model.vertex_bone_weights.double().numpy())
    return rest


def _tails_from_children(heads: np.ndarray, parents: list[int]) -> np.ndarray:
    """Bone tails: the mean of the children's heads; leaves continue their parent's direction."""
    tails = np.zeros_like(heads)
    for c in range(len(parents)):
        kids = [k for k, p in enumerate(parents) if p == c]
        if kids:
            tails[c] = heads[kids].mean(0)
    for c, p in enumerate(parents):
        kids = [k for k, q in enumerate(parents) if q == c]
        if not kids or np.linalg.norm(tails[c] - heads[c]) < 1e-4:
            d = heads[c] - heads[p] if p >= 0 else np.array([0.0, 0.1, 0.0])
            tails[c] = heads[c] + 0.5 * d if np.linalg.norm(d) > 1e-4 else heads[c] + np.array([0.0, 0.05, 0.0])
    return tails


def _smpl_rest(track: TrackResult, shape: np.ndarray, num_bones: int, model_path: Path | None,
               with_mesh: bool) -> dict[str, np.ndarray]:
    """SMPL's rest skeleton in its own frame (Y up, facing +Z), from the model file when given,
    else recovered exactly from the stored joints and rotations (skeleton only, no mesh)."""
    parents = list(SMPL_PARENTS[:num_bones])
    if model_path is not None:
        from metahmr_video.body.smpl_body import SmplBody

        model = SmplBody(model_path, num_betas=len(shape)).model
        betas = np.zeros(model.shapedirs.shape[-1])
        betas[:len(shape)] = shape[:len(betas)]
        v = model.v_template.double().numpy() + np.einsum("vck,k->vc", model.shapedirs.double().numpy(), betas)
        heads_all = model.J_regressor.double().numpy() @ v
        all_parents = [int(p) for p in model.parents.numpy()]
        all_parents[0] = -1
        heads = heads_all[:num_bones]
        rest = dict(heads=heads, parents=parents)
        if with_mesh:
            w = model.lbs_weights.double().numpy()
            # Bones not animated (SMPL-X hands, jaw, eyes) hand their weights to the nearest exported ancestor.
            owner = np.arange(w.shape[1])
            for j in range(w.shape[1]):
                a = j
                while a >= num_bones:
                    a = all_parents[a]
                owner[j] = a
            merged = np.zeros((len(v), num_bones))
            np.add.at(merged.T, owner, w.T)
            k = min(8, num_bones)
            idx = np.argsort(-merged, 1)[:, :k]
            wk = np.take_along_axis(merged, idx, 1)
            keep = wk.sum(0) > 0
            idx, wk = idx[:, keep], wk[:, keep]
            rest.update(vertices=v, faces=model.faces_tensor.numpy().astype(np.int64), indices=idx,
                        weights=wk / wk.sum(1, keepdims=True), root_offset=heads[0])
        else:
            rest.update(root_offset=heads[0])
        return rest
    # Recover the rest offsets: J_c - J_p = G_p (rest_c - rest_p), averaged over frames.
    rot = track.pose[:, :num_bones].astype(np.float64)
    g = np.empty_like(rot)
    for c, p in enumerate(parents):
        g[:, c] = rot[:, c] if p < 0 else g[:, p] @ rot[:, c]
    joints = track.joints[:, :num_bones].astype(np.float64)
    heads = np.zeros((num_bones, 3))
    for c, p in enumerate(parents):
        if p >= 0:
            off = np.einsum("tji,tj->ti", g[:, p], joints[:, c] - joints[:, p])
            heads[c] = heads[p] + off.mean(0)
    return dict(heads=heads, parents=parents, root_offset=None)


def track_animation(results: Results, track_id: int, up: str = "y_up", with_mesh: bool = True,
                    body_model_path: str | Path | None = None, rig: str | None = None) -> TrackAnimation:
    """Build one track's TrackAnimation in the export frame `up` ("y_up" or "z_up").

    Anny: the skeleton and full-topology mesh (13,718 vertices, Anny's skinning weights) for the
    track's median phenotype vector; `rig` ("mixamo" or "game_engine", Anny results only) puts the
    motion on that Anny rig instead of the fitted `cmu_mb` one (`rigs.retarget`). SMPL/SMPL-X: from
    `body_model_path` (the user's model file) when given; without it the skeleton is recovered from
    the stored joints and there is no mesh.
    """
    from metahmr_video.export.rigs import RIGS

    if up not in UP_AXES:
        raise InputError(f"unknown up axis {up!r}; use one of {', '.join(UP_AXES)}")
    if rig is not None and rig not in RIGS:
        raise InputError(f"unknown rig {rig!r}; use one of {', '.join(RIGS)}")
    track = results.tracks[track_id]
    body = str(results.meta.get("body_model", "anny"))
    family = "smpl" if body.startswith("smpl") else "anny"
    if rig is not None and family != "anny":
        raise InputError(f"--rig {rig} needs Anny results; these are {body} results")
    a, b = _CAMERA_TO[up], _REST_TO[(family, up)]
    shape = np.median(track.shape.astype(np.float64), axis=0)
    pose = track.pose.astype(np.float64)
    notes = []
    z_axes = None
    if family == "anny":
        rest = _anny_rest(shape, with_mesh and rig is None)
        if pose.shape[1] != len(rest["names"]):
            raise InputError(f"track {track_id}: {pose.shape[1]} bones in the results, but Anny's "
                             f"cmu_mb rig has {len(rest['names'])}")
        root = track.transl.astype(np.float64)
        if rig is not None:
            from metahmr_video.export.rigs import retarget

            source, rest = _skeleton(rest), _anny_rest(shape, with_mesh, rig)
            pose, offset = retarget(pose, source, _skeleton(rest))
            root = root + offset
            notes.append(f"motion carried from Anny's cmu_mb rig onto its {rig} rig")
        names, parents = rest["names"], rest["parents"]
        tails, z_axes = rest["tails"], rest["z_axes"] @ b.T
    else:
        num_bones = pose.shape[1]
        path = Path(body_model_path) if body_model_path else None
        rest = _smpl_rest(track, shape, num_bones, path, with_mesh and path is not None)
        parents = rest["parents"]
        meta_names = results.meta.get("joint_names") or []
        names = list(meta_names[:num_bones]) if len(meta_names) >= num_bones else \
            (SMPL_BONE_NAMES[:num_bones] if num_bones <= 24 else [f"joint_{i}" for i in range(num_bones)])
        if len(set(names)) != len(names):
            names = [f"{n}_{i}" for i, n in enumerate(names)]
        if rest["root_offset"] is not None:
            root = track.transl.astype(np.float64) + rest["root_offset"]  # smplx: transl moves every point
        else:
            root = track.joints[:, 0].astype(np.float64)
            notes.append("no SMPL model file given: skeleton recovered from the stored joints, no mesh")
        tails = _tails_from_children(rest["heads"], parents)
    heads = rest["heads"] @ b.T
    tails = tails @ b.T
    rotations = b @ pose @ b.T
    top = parents.index(-1)
    rotations[:, top] = a @ pose[:, top] @ b.T
    mesh = None
    if "vertices" in rest:
        mesh = SkinnedMesh(rest["vertices"] @ b.T, rest["faces"], rest["indices"], rest["weights"])
    order = np.argsort(track.frame_ids, kind="stable")
    return TrackAnimation(
        track_id=int(track_id), body_model=body, up=up, bone_names=list(names), parents=list(parents),
        rest_heads=heads, rest_tails=tails, frames=track.frame_ids[order].astype(np.int64),
        fps=results_fps(results), rotations=rotations[order], root_positions=(root @ a.T)[order],
        mesh=mesh, notes=notes, rest_z_axes=z_axes)


def _skeleton(rest: dict):
    from metahmr_video.export.rigs import Skeleton

    return Skeleton(rest["names"], rest["parents"], rest["heads"], rest["tails"], rest["deforming"])


def camera_to_world(points: np.ndarray, up: str) -> np.ndarray:
    """[..., 3] camera-frame points (OpenCV) in the export frame `up`."""
    return np.asarray(points, dtype=np.float64) @ _CAMERA_TO[up].T
