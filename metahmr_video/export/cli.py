"""The `metahmr-video export` sub-command: results NPZ -> FBX / BVH / GLB animation files."""
from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_export(args: argparse.Namespace) -> int:
    """Export the tracks of a results NPZ; user errors raise InputError / MetaHMRError (one line)."""
    from metahmr_video.export import export

    paths = export(args.results, args.format, args.output, per_track=not args.single_file, tracks=args.tracks,
                   mesh=not args.no_mesh, body_model_path=args.body_model, bvh_units=args.bvh_units, rig=args.rig,
                   frame=args.frame)
    for path in paths:
        print(f"wrote {path}")
    return 0


def add_rig_option(parser: argparse.ArgumentParser) -> None:
    """`--rig mixamo|game_engine`: the skeleton the animation is written on (Anny results)."""
    parser.add_argument("--rig", metavar="{mixamo,game_engine}",
                        help="write the motion on Anny's Mixamo-named or Unreal-mannequin-named skeleton "
                             "(game characters, no bone mapping) instead of the fitted cmu_mb one")


def add_frame_option(parser: argparse.ArgumentParser) -> None:
    """`--frame world|camera`: the frame animation files are written in."""
    parser.add_argument("--frame", choices=["world", "camera"],
                        help="animation in the run's world (default: upright, on the ground found from the "
                             "video, feet planted) or in the camera's frame as filmed")


def add_export_command(subparsers) -> None:
    """Register `export RESULTS.npz --format fbx|bvh|glb -o OUT` on an argparse sub-parser set."""
    p = subparsers.add_parser(
        "export", help="turn a results NPZ into FBX / BVH / GLB animation files",
        description="Export each track of a results NPZ as an animated skeleton (and skinned body mesh). "
                    "FBX needs the 'fbx' extra (Blender's bpy); BVH and GLB need nothing more. "
                    "OUT is a file name with the format's extension (per-track files become "
                    "NAME_track<id>.EXT beside it) or a folder.")
    p.add_argument("results", type=Path, help="a results .npz written by `metahmr-video run`")
    p.add_argument("--format", "-f", required=True, metavar="{fbx,bvh,glb}", help="output format")
    p.add_argument("--output", "-o", type=Path, required=True, metavar="OUT", help="output file or folder")
    p.add_argument("--single-file", action="store_true", help="all tracks in one FBX/GLB file")
    p.add_argument("--tracks", type=int, nargs="+", metavar="ID", help="only these track ids")
    p.add_argument("--no-mesh", action="store_true", help="skeleton and motion only, no body mesh")
    p.add_argument("--body-model", type=Path, metavar="PATH",
                   help="SMPL/SMPL-X model file, for a mesh and exact skeleton of SMPL results")
    p.add_argument("--bvh-units", default="cm", metavar="{cm,m}", help="BVH length unit (default cm)")
    add_rig_option(p)
    add_frame_option(p)
    p.set_defaults(func=_cmd_export, frame="world")
