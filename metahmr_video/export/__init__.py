"""Animation export of results NPZ files: FBX (through Blender's `bpy`, optional), BVH and GLB (no Blender).

>>> from metahmr_video.export import export
>>> export("out/clip.npz", "glb", "out/clip.glb")            # [Path('out/clip_track1.glb'), ...]

Axes, units and bone names per format: see each writer's module docstring and docs/export.md.
Importing this package never imports bpy; only FBX export does.
"""
from __future__ import annotations

import os
from pathlib import Path

from metahmr_video.body import body_family
from metahmr_video.core.errors import InputError
from metahmr_video.core.paths import writable_folder
from metahmr_video.core.results import Results, load_results
from metahmr_video.export.animation import SkinnedMesh, TrackAnimation, camera_to_world, track_animation
from metahmr_video.export.rigs import RIGS

FORMATS = ("fbx", "bvh", "glb")
_UP = {"fbx": "z_up", "bvh": "y_up", "glb": "y_up"}

__all__ = ["FORMATS", "RIGS", "SkinnedMesh", "TrackAnimation", "camera_to_world", "export", "output_paths",
           "track_animation"]


def output_paths(out: str | Path, fmt: str, track_ids: list[int], per_track: bool,
                 stem: str = "results") -> dict[int | None, Path]:
    """Where `export` writes. `out` ending in .<fmt> is a file name: per track it becomes
    <stem>_track<id>.<fmt> beside it; otherwise `out` is a folder holding <stem>[_track<id>].<fmt>.
    Keys are track ids (per_track) or None (one file for all tracks)."""
    out = Path(out)
    ext = "." + fmt
    if out.suffix.lower() == ext:
        folder, stem = out.parent, out.stem
    else:
        folder = out
    if per_track:
        return {tid: folder / f"{stem}_track{tid}{ext}" for tid in track_ids}
    return {None: folder / f"{stem}{ext}"}


def export(results: str | Path | Results, format: str, out: str | Path, per_track: bool = True,
           tracks: list[int] | None = None, mesh: bool = True, body_model_path: str | Path | None = None,
           bvh_units: str = "cm", fbx_options: dict | None = None, rig: str | None = None,
           frame: str = "world") -> list[Path]:
    """Export the tracks of a results NPZ (or loaded `Results`) as animation files; returns the paths.

    format: "fbx" (needs the `fbx` extra), "bvh" or "glb". out: a file name with the format's
    extension or a folder (see `output_paths`). per_track: one file per track (BVH always is);
    False puts all tracks in one FBX/GLB. tracks: the track ids to export (default all). mesh: include
    the skinned body mesh (FBX, GLB). body_model_path: the SMPL/SMPL-X model file for SMPL results
    (default: meta "body_model_path" when that file exists; without any, the skeleton comes from the
    stored joints, with no mesh). bvh_units: "cm" or "m". rig: "mixamo" or "game_engine" puts the
    motion on that Anny rig (bone names, hierarchy and rest pose as the rig defines them; Anny results
    only; see `rigs`); None keeps the fitted skeleton. frame: "world" (default; the run's ground:
    upright, on the floor, feet planted; the camera's frame when the results have no world) or
    "camera" (as filmed).
    fbx_options: overrides of Blender's FBX exporter arguments (`fbx.FBX_OPTIONS`).
    Raises InputError (one line) for files that are not ours, unknown formats and unwritable outputs.
    """
    fmt = str(format).lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    if fmt == "bvh" and not per_track:
        raise InputError("a BVH file holds one skeleton: BVH export is always one file per track")
    if bvh_units not in ("cm", "m"):
        raise InputError(f"unknown BVH units {bvh_units!r}; use 'cm' or 'm'")
    if rig is not None and rig not in RIGS:
        raise InputError(f"unknown rig {rig!r}; use one of {', '.join(RIGS)}")
    stem = "results"
    if not isinstance(results, Results):
        stem = Path(results).stem
        results = load_results(results)
    ids = sorted(results.tracks) if tracks is None else [int(t) for t in tracks]
    missing = [t for t in ids if t not in results.tracks]
    if missing:
        raise InputError(f"no track {missing[0]} in the results (tracks: {sorted(results.tracks)})")
    ids = [t for t in ids if len(results.tracks[t].frame_ids) > 0]
    if not ids:
        raise InputError("the results hold no tracks to export")
    body = str(results.meta.get("body_model", "anny"))
    if rig is not None and not body_family(body).retargetable:
        raise InputError(f"--rig {rig} needs Anny results; these are {body} results")
    if body_model_path is None:
        recorded = results.meta.get("body_model_path")      # the run's model file, if it recorded one
        body_model_path = recorded if recorded and Path(recorded).is_file() else None
    if body_model_path is not None and not Path(body_model_path).is_file():
        raise InputError(f"{body_model_path}: body model file not found")
    if fmt == "fbx":
        from metahmr_video.export.fbx import import_bpy
        import_bpy()  # fail before any work when the extra is missing
    paths = output_paths(out, fmt, ids, per_track, stem)
    for folder in {p.parent for p in paths.values()}:
        writable_folder(folder)
    anims = {t: track_animation(results, t, up=_UP[fmt], with_mesh=mesh and fmt != "bvh",
                                body_model_path=body_model_path, rig=rig, frame=frame) for t in ids}
    written = []
    for key, path in paths.items():
        group = [anims[key]] if key is not None else [anims[t] for t in ids]
        try:
            if fmt == "bvh":
                from metahmr_video.export.bvh import write_bvh
                write_bvh(group[0], path, units=bvh_units)
            elif fmt == "glb":
                from metahmr_video.export.gltf import write_glb
                write_glb(group, path, with_mesh=mesh)
            else:
                from metahmr_video.export.fbx import write_fbx
                write_fbx(group, path, with_mesh=mesh, options=fbx_options)
        except PermissionError:
            raise InputError(f"{path}: cannot write the output file (permission denied)") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a file name") from None
        written.append(path)
    return written
