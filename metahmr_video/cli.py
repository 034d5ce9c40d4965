"""The `metahmr-video` command line. Each sub-command lives in its own function; user errors
(MetaHMRError) print one line and exit with status 2 unless --debug is given."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metahmr_video.errors import MetaHMRError


def _cmd_demo(args: argparse.Namespace) -> int:
    """Pose the body model in a reaching pose and write its mesh (OBJ) and joints (NPZ)."""
    import numpy as np
    import torch

    from metahmr_video.body import load_body
    from metahmr_video.rotations import axis_angle_to_rotmat

    body = load_body(args.body)
    rotvec = torch.zeros(1, body.num_bones, 3)
    if body.name == "anny":
        for bone, aa in {"LeftArm": (0.0, -1.2, 0.0), "RightForeArm": (-1.2, 0.0, 0.0),
                         "LeftUpLeg": (0.5, 0.0, 0.0), "LeftLeg": (-0.9, 0.0, 0.0)}.items():
            rotvec[0, body.bone_names.index(bone)] = torch.tensor(aa)
    pose = axis_angle_to_rotmat(rotvec)
    out = body(pose)
    args.output.mkdir(parents=True, exist_ok=True)
    obj = args.output / f"{body.name}_demo.obj"
    with open(obj, "w") as f:
        f.writelines(f"v {x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in out.vertices[0].tolist())
        f.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in body.faces.tolist())
    np.savez(args.output / f"{body.name}_demo.npz", joints=out.joints[0].numpy(),
             keypoints=out.keypoints[0].numpy(), vertices=out.vertices[0].numpy())
    print(f"wrote {obj} ({out.vertices.shape[1]} vertices) and {body.name}_demo.npz "
          f"({out.joints.shape[1]} joints, 33 MediaPipe keypoints, metres)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metahmr-video", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="pose the body model and write a mesh (no video needed)")
    demo.add_argument("-o", "--output", type=Path, default=Path("results"))
    demo.add_argument("--body", default="anny", help="'anny', 'anny-full' or a path to an SMPL/SMPL-X file")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MetaHMRError as exc:
        if args.debug:
            raise
        print(f"metahmr-video: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
