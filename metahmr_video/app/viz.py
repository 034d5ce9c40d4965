"""Mesh files and an interactive viewer for results, through open3d (the optional `viz` extra,
imported lazily: `pip install -e ".[viz]"`; on Debian `import open3d` also needs libusb-1.0-0).

Meshes are written in the results' camera frame (OpenCV: x right, y down, z forward), metres.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.errors import InputError, MetaHMRError
from metahmr_video.core.paths import install_command, writable_folder
from metahmr_video.core.results import Results, load_results
from metahmr_video.sinks.render import body_faces, track_color


def _open3d():
    try:
        import open3d
    except ImportError as exc:
        raise MetaHMRError(f"open3d is not usable ({exc}); install the viz extra: {install_command('viz')}"
                           " (Debian also needs: apt-get install libusb-1.0-0)") from None
    return open3d


def track_meshes(results: Results, track_id: int, topology: str = "anny") -> tuple[np.ndarray, np.ndarray]:
    """Vertices [T, V, 3] (metres, camera frame) and outward faces [F, 3] of one track, posed by the
    results' body model with the track's rotations, shapes and translations: Anny (topology "anny" =
    full mesh), or the SMPL/SMPL-X model file the results record (`body_model_path`)."""
    from metahmr_video.body import AnnyBody, SmplBody

    if track_id not in results.tracks:
        raise InputError(f"no track {track_id}; tracks are {sorted(results.tracks)}")
    tr = results.tracks[track_id]
    if results.meta.get("body_model", "anny") == "anny":
        body = AnnyBody(topology=topology)
    else:
        path = results.meta.get("body_model_path")
        if not path or not Path(path).is_file():
            raise InputError(f"the SMPL/SMPL-X model file of these results is not found ({path})")
        body = SmplBody(path, num_betas=tr.shape.shape[1])
    with torch.no_grad():
        out = body(torch.from_numpy(tr.pose).float(), torch.from_numpy(tr.shape).float(),
                   torch.from_numpy(tr.transl).float())
    return out.vertices.numpy(), body_faces(body)


def write_meshes(results_path: str | Path, out_dir: str | Path, fmt: str = "ply", topology: str = "anny",
                 every: int = 1) -> list[Path]:
    """One mesh file per track and written frame: OUT/<name>_track<id>_<frame:06d>.<fmt> (ply or obj),
    vertex-coloured by track. Returns the paths written."""
    o3d = _open3d()
    if fmt not in ("ply", "obj"):
        raise InputError(f"mesh format must be ply or obj, got {fmt!r}")
    results = load_results(results_path)
    out_dir = writable_folder(out_dir)
    name = Path(results_path).stem
    written = []
    for tid, tr in results.tracks.items():
        verts, faces = track_meshes(results, tid, topology)
        color = np.asarray(track_color(tid), np.float64) / 255.0
        for i in range(0, len(verts), max(1, every)):
            mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts[i].astype(np.float64)),
                                             o3d.utility.Vector3iVector(faces.astype(np.int32)))
            mesh.compute_vertex_normals()
            mesh.paint_uniform_color(color)
            path = out_dir / f"{name}_track{tid}_{int(tr.frame_ids[i]):06d}.{fmt}"
            if not o3d.io.write_triangle_mesh(str(path), mesh):
                raise InputError(f"{path}: open3d could not write the mesh")
            written.append(path)
    return written


def view(results_path: str | Path, topology: str = "anny", fps: float | None = None) -> None:
    """Play every track's mesh in an open3d window (needs a display); Esc or closing the window ends."""
    import time

    o3d = _open3d()
    results = load_results(results_path)
    if not results.tracks:
        raise InputError(f"{results_path}: no tracks to show")
    seqs = {tid: track_meshes(results, tid, topology) for tid in results.tracks}
    frames = sorted({int(f) for tr in results.tracks.values() for f in tr.frame_ids})
    vis = o3d.visualization.Visualizer()
    if not vis.create_window("metahmr-video"):
        raise InputError("cannot open a window (no display); write mesh files with `metahmr-video meshes` instead")
    meshes = {}
    for tid, (verts, faces) in seqs.items():
        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts[0].astype(np.float64)),
                                      o3d.utility.Vector3iVector(faces.astype(np.int32)))
        m.paint_uniform_color(np.asarray(track_color(tid)) / 255.0)
        m.compute_vertex_normals()
        vis.add_geometry(m)
        meshes[tid] = m
    period = 1.0 / float(fps or results.meta.get("fps") or 30.0)
    try:
        for f in frames:
            for tid, tr in results.tracks.items():
                hit = np.nonzero(tr.frame_ids == f)[0]
                if len(hit):
                    meshes[tid].vertices = o3d.utility.Vector3dVector(seqs[tid][0][hit[0]].astype(np.float64))
                    meshes[tid].compute_vertex_normals()
                    vis.update_geometry(meshes[tid])
            if not vis.poll_events():
                break
            vis.update_renderer()
            time.sleep(period)
    finally:
        vis.destroy_window()
