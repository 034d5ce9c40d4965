"""FBX through Blender's own exporter (`bpy`, the optional `fbx` extra), run headless.

Each track becomes an armature object "track_<id>" (bones named after the body model's, rest pose
of the track's body shape, bone directions head -> tail and, for Anny, bone rolls as its rig
defines them) with a skinned mesh child "track_<id>_body" (the body model's vertex weights as
vertex groups, an Armature modifier) and one action: a quaternion key per bone and a location key
for the root on every video frame from the track's first to its last (the video frame index is the
Blender frame; unseen frames interpolated). Every bone's default transform is the rest pose. The
scene is built Z-up in metres (`"z_up"` export frame: the camera at the origin looking down +Y);
Blender's exporter writes FBX's Y-up axes (axis_up="Y", axis_forward="-Z", a body faces +Z) in
centimetres (UnitScaleFactor 1.0, FBX's default unit).
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np

from metahmr_video.core.errors import MetaHMRError
from metahmr_video.core.paths import install_command
from metahmr_video.export.animation import TrackAnimation

FBX_OPTIONS = dict(
    axis_forward="-Z", axis_up="Y", add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False,
    bake_anim_use_nla_strips=False, bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0,
    object_types={"ARMATURE", "MESH"}, use_armature_deform_only=False,
)


def import_bpy():
    """Blender's Python module, or a one-line MetaHMRError saying how to get it."""
    try:
        import bpy
    except ImportError:
        raise MetaHMRError(f"FBX export needs Blender's Python module: {install_command('fbx')} "
                           "(bpy 4.4, Python 3.11 only); BVH and GLB export need no Blender") from None
    return bpy


def _quiet():
    """Keep Blender's exporter chatter (Python prints) off our stdout."""
    return contextlib.redirect_stdout(io.StringIO())


def _set_fps(scene, fps: float) -> None:
    whole = max(1, int(round(fps)))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def _add_mesh(bpy, anim: TrackAnimation, arm_obj):
    mesh = anim.mesh
    me = bpy.data.meshes.new(f"track_{anim.track_id}_body")
    me.vertices.add(len(mesh.vertices))
    me.vertices.foreach_set("co", mesh.vertices.astype(np.float32).ravel())
    faces = mesh.faces.astype(np.int32)
    me.loops.add(faces.size)
    me.loops.foreach_set("vertex_index", faces.ravel())
    me.polygons.add(len(faces))
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.update()
    ob = bpy.data.objects.new(f"track_{anim.track_id}_body", me)
    bpy.context.scene.collection.objects.link(ob)
    groups = [ob.vertex_groups.new(name=n) for n in anim.bone_names]
    for k in range(mesh.indices.shape[1]):
        for v, (bone, w) in enumerate(zip(mesh.indices[:, k].tolist(), mesh.weights[:, k].tolist())):
            if w > 0:
                groups[bone].add([v], w, "ADD")
    ob.parent = arm_obj
    mod = ob.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    return ob


def _add_track(bpy, anim: TrackAnimation, with_mesh: bool):
    """Build one track's armature (+ mesh) and its action in the current scene."""
    from scipy.spatial.transform import Rotation

    anim = anim.contiguous()
    name = f"track_{anim.track_id}"
    arm = bpy.data.armatures.new(name)
    arm_obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(arm_obj)
    bpy.context.view_layer.objects.active = arm_obj
    bpy.ops.object.mode_set(mode="EDIT")
    edit = []
    for c in range(anim.num_bones):
        eb = arm.edit_bones.new(anim.bone_names[c])
        eb.head = anim.rest_heads[c].tolist()
        eb.tail = anim.rest_tails[c].tolist()
        eb.roll = 0.0
        if anim.rest_z_axes is not None:
            z = anim.rest_z_axes[c]
            along = anim.rest_tails[c] - anim.rest_heads[c]
            if np.linalg.norm(np.cross(z, along / np.linalg.norm(along))) > 0.5:   # not along the bone
                eb.align_roll(z.tolist())
        edit.append(eb)
    for c, p in enumerate(anim.parents):
        if p >= 0:
            edit[c].parent = edit[p]
            edit[c].use_connect = False
    bpy.ops.object.mode_set(mode="OBJECT")
    # Blender's rest orientation of each bone (armature space) turns world-aligned rotations into
    # pose-bone rotations: L_c = R_c^T D_c R_c; root: L_0 = R_0^T G_0 R_0, location R_0^T (p - h_0).
    rest = np.array([np.array(arm.bones[n].matrix_local)[:3, :3] for n in anim.bone_names], dtype=np.float64)
    local = np.einsum("jba,tjbc,jcd->tjad", rest, anim.rotations, rest)
    quat = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_quat().reshape(len(anim.frames), anim.num_bones, 4)
    flips = np.cumsum(np.sum(quat[1:] * quat[:-1], axis=-1) < 0, axis=0) % 2
    quat[1:][flips.astype(bool)] *= -1
    wxyz = quat[..., [3, 0, 1, 2]]
    root = anim.parents.index(-1)
    loc = (anim.root_positions - anim.rest_heads[root]) @ rest[root]
    action = bpy.data.actions.new(f"{name}_motion")
    # A rest-pose key one frame before the motion: Blender's exporter writes each bone's default
    # transform at the current frame, which `write_fbx` sets there, so the file's default pose is the
    # rest pose even without a mesh (whose bind pose carries it too). Only the scene range is baked.
    frames = np.concatenate([[anim.frames[0] - 1], anim.frames]).astype(np.float64)
    wxyz = np.concatenate([np.tile([1.0, 0.0, 0.0, 0.0], (1, anim.num_bones, 1)), wxyz])
    loc = np.concatenate([np.zeros((1, 3)), loc])

    def curve(path: str, index: int, group: str, values: np.ndarray) -> None:
        fc = action.fcurves.new(path, index=index, action_group=group)
        fc.keyframe_points.add(len(frames))
        fc.keyframe_points.foreach_set("co", np.stack([frames, values], 1).astype(np.float32).ravel())
        fc.update()

    for c, bone in enumerate(anim.bone_names):
        arm_obj.pose.bones[bone].rotation_mode = "QUATERNION"
        for i in range(4):
            curve(f'pose.bones["{bone}"].rotation_quaternion', i, bone, wxyz[:, c, i])
    moved = {root: loc}
    for c, offset in anim.bone_offsets.items():   # a bone that moves from its parent: L_c = R_c^T (o_c - rest o_c)
        rest_offset = anim.rest_heads[c] - anim.rest_heads[anim.parents[c]]
        moved[c] = np.concatenate([np.zeros((1, 3)), (offset - rest_offset) @ rest[c]])
    for c, values in moved.items():
        for i in range(3):
            curve(f'pose.bones["{anim.bone_names[c]}"].location', i, anim.bone_names[c], values[:, i])
    arm_obj.animation_data_create()
    arm_obj.animation_data.action = action
    slots = getattr(action, "slots", None)  # Blender >= 4.4: an action drives an ID through a slot
    if slots is not None and len(slots) and getattr(arm_obj.animation_data, "action_slot", None) is None:
        arm_obj.animation_data.action_slot = slots[0]
    if with_mesh and anim.mesh is not None:
        _add_mesh(bpy, anim, arm_obj)
    return int(anim.frames[0]), int(anim.frames[-1])


def build_scene(anims: list[TrackAnimation], with_mesh: bool = True):
    """Reset Blender to an empty scene and build these tracks in it (also used by tests)."""
    bpy = import_bpy()
    with _quiet():
        bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    for anim in anims:
        if anim.up != "z_up":
            raise ValueError("FBX scenes are built in the z_up export frame")
    _set_fps(scene, anims[0].fps)
    ranges = [_add_track(bpy, anim, with_mesh) for anim in anims]
    scene.frame_start = min(r[0] for r in ranges)
    scene.frame_end = max(r[1] for r in ranges)
    scene.frame_set(scene.frame_start)
    return scene


def write_fbx(anims: list[TrackAnimation], path: Path, with_mesh: bool = True, options: dict | None = None) -> Path:
    """Write these tracks into one FBX file at `path` (binary FBX 7.4 via Blender's exporter)."""
    bpy = import_bpy()
    build_scene(anims, with_mesh)
    tmp = path.with_name(path.stem + ".tmp.fbx")
    kwargs = dict(FBX_OPTIONS, **(options or {}))
    # The exporter samples every frame; deforming the meshes there is wasted work (it writes the rest
    # mesh and the skin binding either way), so the Armature modifiers stay off while it runs (-40%).
    mods = [m for ob in bpy.context.scene.objects for m in ob.modifiers if m.type == "ARMATURE"]
    bpy.context.scene.frame_set(bpy.context.scene.frame_start - 1)      # the rest pose (see _add_track)
    try:
        for m in mods:
            m.show_viewport = False
        with _quiet():
            result = bpy.ops.export_scene.fbx(filepath=str(tmp), **kwargs)
        if "FINISHED" not in result or not tmp.is_file():
            raise MetaHMRError(f"{path}: Blender's FBX exporter did not finish ({result})")
        os.replace(tmp, path)
    finally:
        for m in mods:
            m.show_viewport = True
        if tmp.exists():
            tmp.unlink()
    return path
