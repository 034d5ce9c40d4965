"""BVH (Biovision hierarchy) writer: one skeleton per file, no Blender needed.

Layout: Y up, X right, Z towards the viewer (`"y_up"` export frame), centimetres by default. The root
has OFFSET 0 0 0 and six channels (Xposition Yposition Zposition, then rotations), so its position
channels are the root joint's absolute position whichever way a reader combines offset and
channels; other joints have three rotation channels, but for a joint that moves away from its
parent (`TrackAnimation.bone_offsets`: game_engine's `pelvis` under a `Root` pinned on the ground),
whose position channels hold its offset from the parent (replacing OFFSET, as Blender's importer
and bvhio read them). Rotation channels are Euler angles in degrees
in the stated order, intrinsic: "Zrotation Xrotation Yrotation" means R = Rz @ Rx @ Ry, each joint's
rotation relative to its parent in the (world-aligned) axes of the rest pose, the BVH convention.
Leaves end in an End Site at the bone's tail. Frames run over every video frame from the track's
first to its last (unseen frames interpolated); Frame Time is 1 / fps.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from metahmr_video.export.animation import TrackAnimation

EULER_ORDER = "ZXY"
UNITS = {"cm": 100.0, "m": 1.0}


def bvh_text(anim: TrackAnimation, units: str = "cm", euler_order: str = EULER_ORDER) -> str:
    """The BVH file contents for one track (see the module docstring)."""
    from scipy.spatial.transform import Rotation

    if anim.up != "y_up":
        raise ValueError("BVH is written in the y_up export frame")
    scale = UNITS[units]
    anim = anim.contiguous()
    children: list[list[int]] = [[] for _ in anim.parents]
    for c, p in enumerate(anim.parents):
        if p >= 0:
            children[p].append(c)
    rot_channels = " ".join(f"{axis}rotation" for axis in euler_order)
    lines = ["HIERARCHY"]
    order: list[int] = []

    def write(c: int, depth: int) -> None:
        pad = "  " * depth
        p = anim.parents[c]
        head = "ROOT" if p < 0 else "JOINT"
        offset = np.zeros(3) if p < 0 else (anim.rest_heads[c] - anim.rest_heads[p]) * scale + 0.0
        lines.append(f"{pad}{head} {anim.bone_names[c]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if p < 0 or c in anim.bone_offsets:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {rot_channels}")
        order.append(c)
        for k in children[c]:
            write(k, depth + 1)
        if not children[c]:
            end = (anim.rest_tails[c] - anim.rest_heads[c]) * scale
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    roots = [c for c, p in enumerate(anim.parents) if p < 0]
    if len(roots) != 1:
        raise ValueError(f"BVH needs exactly one root bone, got {len(roots)}")
    write(roots[0], 0)
    t = len(anim.frames)
    rots = anim.rotations[:, order].reshape(-1, 3, 3)
    euler = Rotation.from_matrix(rots).as_euler(euler_order.upper(), degrees=True).reshape(t, len(order), 3)
    euler = np.rad2deg(np.unwrap(np.deg2rad(euler), axis=0))  # no 360-degree jumps between frames
    columns = []
    for k, c in enumerate(order):
        if anim.parents[c] < 0:
            columns.append(anim.root_positions * scale)
        elif c in anim.bone_offsets:
            columns.append(anim.bone_offsets[c] * scale)
        columns.append(euler[:, k])
    values = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / anim.fps:.8f}"]
    buf = io.StringIO()
    buf.write("\n".join(lines) + "\n")
    np.savetxt(buf, values, fmt="%.5f")
    return buf.getvalue()


def write_bvh(anim: TrackAnimation, path: Path, units: str = "cm") -> Path:
    """Write one track's BVH file at `path`."""
    path.write_text(bvh_text(anim, units=units))
    return path
