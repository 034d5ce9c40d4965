"""Binary glTF 2.0 (GLB) writer, dependency-free: skinned meshes plus one animation.

Layout (glTF's own conventions): Y up, metres, right-handed; a rest-pose body faces +Z; the camera
that filmed the video sits at the origin looking down -Z (`"y_up"` export frame). Per track: a
node "track_<id>" holding the joint hierarchy (joint nodes named after the body model's bones,
translations = rest offsets from the parent, identity rest rotations, so rest axes are
world-aligned), a skinned mesh "track_<id>_body" (4 influences per vertex, the largest,
renormalised) and animation channels: every joint's rotation, the root joint's translation and that
of any joint that moves from its parent (`TrackAnimation.bone_offsets`), LINEAR, keyed at the
frames the person was seen (time = video frame index / fps, so tracks stay in step with the video
and gaps are interpolated by the viewer). All tracks share one animation.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from metahmr_video.export.animation import TrackAnimation

_FLOAT, _UINT, _USHORT, _UBYTE = 5126, 5125, 5123, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


class _Builder:
    """Accumulates binary data, buffer views and accessors of one GLB."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, type_: str, component: int, target: int | None = None,
            minmax: bool = False) -> int:
        data = np.ascontiguousarray(array)
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        self.blob += data.tobytes()
        self.views.append(view)
        count = data.shape[0]
        acc = {"bufferView": len(self.views) - 1, "componentType": component, "count": int(count), "type": type_}
        if minmax:
            flat = data.reshape(count, -1)
            acc["min"] = [float(v) for v in flat.min(0)]
            acc["max"] = [float(v) for v in flat.max(0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-12), np.array([0.0, 1.0, 0.0]))


def _continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    """[T, J, 3, 3] -> [T, J, 4] xyzw quaternions without sign flips between consecutive frames."""
    from scipy.spatial.transform import Rotation

    t, j = rotations.shape[:2]
    q = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_quat().reshape(t, j, 4)
    flips = np.cumsum(np.sum(q[1:] * q[:-1], axis=-1) < 0, axis=0) % 2
    q[1:][flips.astype(bool)] *= -1
    return q


def glb_bytes(anims: list[TrackAnimation], with_mesh: bool = True) -> bytes:
    """The GLB file for these tracks (see the module docstring)."""
    b = _Builder()
    nodes: list[dict] = []
    scene_nodes: list[int] = []
    meshes, skins, channels, samplers = [], [], [], []
    for anim in anims:
        if anim.up != "y_up":
            raise ValueError("glTF is written in the y_up export frame")
        base = len(nodes)
        track_node = base
        nodes.append({"name": f"track_{anim.track_id}", "children": []})
        scene_nodes.append(track_node)
        joint_nodes = [base + 1 + c for c in range(anim.num_bones)]
        for c, p in enumerate(anim.parents):
            offset = anim.rest_heads[c] - (anim.rest_heads[p] if p >= 0 else 0.0)
            nodes.append({"name": anim.bone_names[c], "translation": [float(v) for v in offset]})
        for c, p in enumerate(anim.parents):
            parent = nodes[joint_nodes[p]] if p >= 0 else nodes[track_node]
            parent.setdefault("children", []).append(joint_nodes[c])
        root = joint_nodes[anim.parents.index(-1)]
        if with_mesh and anim.mesh is not None:
            mesh = anim.mesh.top_k(4)
            ibm = np.tile(np.eye(4, dtype=np.float32), (anim.num_bones, 1, 1))
            ibm[:, :3, 3] = -anim.rest_heads
            ibm_acc = b.add(ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4", _FLOAT)  # column-major
            skins.append({"name": f"track_{anim.track_id}_skin", "joints": joint_nodes,
                          "inverseBindMatrices": ibm_acc, "skeleton": root})
            v = mesh.vertices.astype(np.float32)
            comp, dtype = (_UBYTE, np.uint8) if anim.num_bones < 256 else (_USHORT, np.uint16)
            attributes = {
                "POSITION": b.add(v, "VEC3", _FLOAT, _ARRAY_BUFFER, minmax=True),
                "NORMAL": b.add(_vertex_normals(mesh.vertices, mesh.faces).astype(np.float32), "VEC3", _FLOAT,
                                _ARRAY_BUFFER),
                "JOINTS_0": b.add(mesh.indices.astype(dtype), "VEC4", comp, _ARRAY_BUFFER),
                "WEIGHTS_0": b.add(mesh.weights.astype(np.float32), "VEC4", _FLOAT, _ARRAY_BUFFER),
            }
            indices = b.add(mesh.faces.astype(np.uint32).reshape(-1), "SCALAR", _UINT, _ELEMENT_ARRAY_BUFFER)
            meshes.append({"name": f"track_{anim.track_id}_body",
                           "primitives": [{"attributes": attributes, "indices": indices, "mode": 4}]})
            nodes.append({"name": f"track_{anim.track_id}_body", "mesh": len(meshes) - 1, "skin": len(skins) - 1})
            scene_nodes.append(len(nodes) - 1)
        times = b.add((anim.frames / anim.fps).astype(np.float32), "SCALAR", _FLOAT, minmax=True)
        quats = _continuous_quaternions(anim.rotations).astype(np.float32)
        for c in range(anim.num_bones):
            out = b.add(quats[:, c], "VEC4", _FLOAT)
            samplers.append({"input": times, "output": out, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": joint_nodes[c], "path": "rotation"}})
        moving = {anim.parents.index(-1): anim.root_positions, **anim.bone_offsets}
        for c, position in moving.items():     # the root's and any bone's that moves from its parent
            out = b.add(position.astype(np.float32), "VEC3", _FLOAT)
            samplers.append({"input": times, "output": out, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": joint_nodes[c], "path": "translation"}})
    doc = {
        "asset": {"version": "2.0", "generator": "metahmr-video"},
        "scene": 0, "scenes": [{"name": "metahmr-video", "nodes": scene_nodes}], "nodes": nodes,
        "animations": [{"name": "motion", "channels": channels, "samplers": samplers}],
        "accessors": b.accessors, "bufferViews": b.views, "buffers": [{"byteLength": len(b.blob)}],
    }
    if meshes:
        doc.update(meshes=meshes, skins=skins)
    while len(b.blob) % 4:
        b.blob.append(0)
    doc["buffers"][0]["byteLength"] = len(b.blob)
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(b.blob)
    return (struct.pack("<III", 0x46546C67, 2, total) + struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(b.blob), 0x004E4942) + bytes(b.blob))


def write_glb(anims: list[TrackAnimation], path: Path, with_mesh: bool = True) -> Path:
    """Write the tracks' GLB at `path`."""
    path.write_bytes(glb_bytes(anims, with_mesh=with_mesh))
    return path
