"""One track's skeleton, skinned mesh and motion, in an export frame: the common ground of the exporters.

Frames (all right-handed, metres):
- Source: the results' camera frame (OpenCV: x right, y down, z forward, camera at the origin), or
  by default, when the run found a ground, its world (`metahmr_video.world`): the camera turned
  level, the origin on the ground below it, the motion planted on the ground (root positions
  from `transl_world`, rotations from `pose_world`: the legs of held feet bent), so that a
  character stands on the floor upright whatever the camera's tilt.
- ``"y_up"`` (glTF, BVH): X right, Y up, Z towards the camera's viewer — the OpenGL camera frame, so
  the camera sits at the origin looking down -Z. A rest-pose body stands along +Y facing +Z.
- ``"z_up"`` (Blender, then FBX through Blender's exporter): X right, Y forward (the camera looks
  down +Y from the origin), Z up. A rest-pose body stands along +Z facing -Y (Blender's front view).

Rotations are "world-aligned local" rotations, the convention of BVH and of Anny's local-ref
parameterization: bone c's rotation relative to its parent, expressed in the axes of the rest pose,
so that its global rotation is G_c = G_parent @ R_c and joint positions follow
J_c = J_parent + G_parent @ (rest_c - rest_parent). The root's rotation is its global rotation and
its position is the root joint's position. A bone may also move away from its parent (`bone_offsets`:
game_engine's `pelvis` when its `Root` is pinned on the ground), J_c = J_parent + G_parent @ offset_c[t].
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from metahmr_video.body import BodyModel, RestSkeleton, body_family
from metahmr_video.core.errors import InputError
from metahmr_video.core.results import Results, TrackResult
from metahmr_video.world.frame import WorldFrame
from metahmr_video.world.legs import leg_chains

UP_AXES = ("y_up", "z_up")
FRAMES = ("world", "camera")

# Camera (OpenCV) -> export world.
_CAMERA_TO = {
    "y_up": np.diag([1.0, -1.0, -1.0]),
    "z_up": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}
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
    rest Z axis as its rig defines it (its Y axis runs head -> tail; FBX bone roll) or None (roll 0),
    bone_offsets {bone index: [T, 3]} metres: for bones whose head moves relative to their parent's,
    that offset in the parent's rest-aligned axes (replacing rest_heads[c] - rest_heads[parent]).
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
    bone_offsets: dict[int, np.ndarray] = field(default_factory=dict)

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
                j[:, c] = j[:, p] + (g[:, p] @ self.offset(c)[..., None])[..., 0]
        return j

    def offset(self, c: int) -> np.ndarray:
        """[T, 3] (or [3] when it does not move) bone c's head relative to its parent's, in the
        parent's rest-aligned axes, metres."""
        if c in self.bone_offsets:
            return self.bone_offsets[c]
        return self.rest_heads[c] - self.rest_heads[self.parents[c]]

    def contiguous(self) -> "TrackAnimation":
        """The track on every video frame from its first to its last: rotations slerped, root
        positions and bone offsets interpolated linearly across frames where the person was not seen."""
        full = np.arange(self.frames[0], self.frames[-1] + 1)
        if len(full) == len(self.frames):
            return self
        from scipy.spatial.transform import Rotation, Slerp

        t, num = len(full), self.num_bones
        rot = np.empty((t, num, 3, 3))
        for b in range(num):
            rot[:, b] = Slerp(self.frames, Rotation.from_matrix(self.rotations[:, b]))(full).as_matrix()
        def lerp(x: np.ndarray) -> np.ndarray:
            return np.stack([np.interp(full, self.frames, x[:, i]) for i in range(3)], 1)
        return TrackAnimation(self.track_id, self.body_model, self.up, self.bone_names, self.parents,
                              self.rest_heads, self.rest_tails, full, self.fps, rot, lerp(self.root_positions),
                              self.mesh, self.notes + [f"{t - len(self.frames)} unseen frames interpolated"],
                              self.rest_z_axes, {c: lerp(o) for c, o in self.bone_offsets.items()})


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


def _rest_from_joints(track: TrackResult, names: list[str], parents: list[int]) -> RestSkeleton:
    """The rest skeleton recovered exactly from the stored joints and rotations (no model file, no
    mesh): J_c - J_p = G_p (rest_c - rest_p), averaged over frames; the root at the origin."""
    num_bones = len(parents)
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
    return RestSkeleton(names=names, parents=parents, heads=heads)


def _rest_to(family: type[BodyModel], up: str) -> np.ndarray:
    """[3, 3] the family's rest frame -> export world `up` (through the camera frame it faces)."""
    return _CAMERA_TO[up] @ family.cam_from_body.double().numpy() + 0.0  # + 0.0: no negative zeros


def track_animation(results: Results, track_id: int, up: str = "y_up", with_mesh: bool = True,
                    body_model_path: str | Path | None = None, rig: str | None = None,
                    frame: str = "world") -> TrackAnimation:
    """Build one track's TrackAnimation in the export frame `up` ("y_up" or "z_up").

    frame: "world" (default): in the run's world when it has one (else the camera's, with a note);
    "camera": in the camera's frame as filmed (a tilted camera gives a tilted world).

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
    if frame not in FRAMES:
        raise InputError(f"unknown frame {frame!r}; use one of {', '.join(FRAMES)}")
    track = results.tracks[track_id]
    name = str(results.meta.get("body_model", "anny"))
    family = body_family(name)
    if rig is not None and not family.retargetable:
        raise InputError(f"--rig {rig} needs Anny results; these are {name} results")
    a, b = _CAMERA_TO[up], _rest_to(family, up)
    shape = np.median(track.shape.astype(np.float64), axis=0)
    pose = track.pose.astype(np.float64)
    num_bones = pose.shape[1]
    notes = []
    level, scale, ground = np.eye(3), np.ones(len(pose)), np.zeros((len(pose), 3))
    in_world = frame == "world" and track.world_scale is not None and "camera_to_world" in results.meta
    if in_world:
        world = WorldFrame.from_matrix(np.array(results.meta["camera_to_world"]))
        level, scale = world.levelled, track.world_scale.astype(np.float64)
        hold = track.transl_world.astype(np.float64) - world.points(track.transl * scale[:, None])  # feet held
        ground = (hold + [0.0, world.height_m, 0.0]) * [1.0, -1.0, -1.0]  # world -> levelled axes
        if track.pose_world is not None:  # held feet's legs bent (E71); world = diag(1, -1, -1) @ levelled
            pose = track.pose_world.astype(np.float64)
            pose[:, 0] = np.diag([1.0, -1.0, -1.0]) @ pose[:, 0]
        else:
            pose = pose.copy()
            pose[:, 0] = level @ pose[:, 0]  # the root's rotation: rest -> levelled camera
    elif frame == "world":
        notes.append("no ground found in the results: exported in the camera's frame")

    def placed(p: np.ndarray) -> np.ndarray:
        """[T,3] camera-frame positions -> the levelled frame (planted and held; ground at y = 0)."""
        return (p * scale[:, None]) @ level.T + ground
    body = family.for_results(results.meta, len(shape), Path(body_model_path) if body_model_path else None)
    if body is None:
        names, parents = family.default_skeleton(num_bones)
        meta_names = results.meta.get("joint_names") or []
        names = list(meta_names[:num_bones]) if len(meta_names) >= num_bones else names
        rest = _rest_from_joints(track, names, parents)
        size = _planted_size(track, rest, family) if in_world else 1.0
        root = placed(track.joints[:, 0].astype(np.float64))
        notes.append(f"no {name} model file given: skeleton recovered from the stored joints, no mesh")
    else:
        if num_bones != body.num_bones:
            raise InputError(f"track {track_id}: {num_bones} bones in the results, but the {name} body "
                             f"has {body.num_bones}")
        rest = body.rest_skeleton(shape, with_mesh and rig is None)
        size = _planted_size(track, rest, family) if in_world else 1.0
        root = track.transl.astype(np.float64)
        if rest.root_offset is not None:
            root = root + rest.root_offset  # smplx: transl moves every point
        root = placed(root)
        if rig is not None:
            from metahmr_video.export.rigs import retarget

            source, rest = _skeleton(rest), body.rest_skeleton(shape, with_mesh, rig=rig)
            pose, offset = retarget(pose, source, _skeleton(rest))
            root = root + size * offset
            notes.append(f"motion carried from the fitted rig onto {name}'s {rig} rig")
    names, parents = list(rest.names), list(rest.parents)
    if len(set(names)) != len(names):
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    tails = rest.tails if rest.tails is not None else _tails_from_children(rest.heads, parents)
    z_axes = None if rest.z_axes is None else rest.z_axes @ b.T
    heads = size * rest.heads @ b.T
    tails = size * tails @ b.T
    rotations = b @ pose @ b.T
    top = parents.index(-1)
    rotations[:, top] = a @ pose[:, top] @ b.T
    mesh = None
    if rest.vertices is not None:
        mesh = SkinnedMesh(size * rest.vertices @ b.T, rest.faces, rest.skin_indices, rest.skin_weights)
    order = np.argsort(track.frame_ids, kind="stable")
    anim = TrackAnimation(
        track_id=int(track_id), body_model=name, up=up, bone_names=list(names), parents=list(parents),
        rest_heads=heads, rest_tails=tails, frames=track.frame_ids[order].astype(np.int64),
        fps=results_fps(results), rotations=rotations[order], root_positions=(root @ a.T)[order],
        mesh=mesh, notes=notes, rest_z_axes=z_axes)
    if in_world and rest.deforming is not None and not rest.deforming[top]:
        anim = root_on_ground(anim)
        notes.append(f"{names[top]} on the ground under {names[anim.parents.index(top)]}")
    return anim


def _planted_size(track: TrackResult, rest: RestSkeleton, family: type[BodyModel]) -> float:
    """The world body's size against `rest` (the skeleton of the track's median shape): the median
    over frames of `world_scale` x the frame's leg length (hip, knee, ankle) over the rest's. The
    planting scales each frame to put its feet on the ground, so this, not 1, is the size at which
    the exported skeleton's feet reach the ground (E71); the median `world_scale` without legs."""
    chain = leg_chains(list(rest.names), family.leg_joints)
    if chain is None:
        return float(np.median(track.world_scale))

    def length(j: np.ndarray) -> np.ndarray:
        return sum(np.linalg.norm(j[..., c[1], :] - j[..., c[0], :], axis=-1) +
                   np.linalg.norm(j[..., c[2], :] - j[..., c[1], :], axis=-1) for c in chain)
    return float(np.median(track.world_scale * length(track.joints.astype(np.float64))) / length(rest.heads))


def root_on_ground(anim: TrackAnimation) -> TrackAnimation:
    """The animation with its root bone (one that deforms nothing, game_engine's `Root`, with one
    child) on the ground (up coordinate 0 of the export frame) right under its child's head, as
    engines expect for root motion; the child (the pelvis) keeps its place through `bone_offsets`,
    so every other joint and the mesh stay where they were."""
    top = anim.parents.index(-1)
    (child,) = [c for c, p in enumerate(anim.parents) if p == top]
    joints, g = anim.joint_positions(), anim.global_rotations()
    root = joints[:, child].copy()
    root[:, {"y_up": 1, "z_up": 2}[anim.up]] = 0.0
    offset = np.einsum("tba,tb->ta", g[:, top], joints[:, child] - root)     # G_root^T (pelvis - root)
    return replace(anim, root_positions=root, bone_offsets={**anim.bone_offsets, child: offset})


def _skeleton(rest: RestSkeleton):
    """The rigs module's view of a rest skeleton."""
    from metahmr_video.export.rigs import Skeleton

    return Skeleton(rest.names, rest.parents, rest.heads, rest.tails, rest.deforming)


def camera_to_world(points: np.ndarray, up: str) -> np.ndarray:
    """[..., 3] camera-frame points (OpenCV) in the export frame `up`."""
    return np.asarray(points, dtype=np.float64) @ _CAMERA_TO[up].T
