"""The `metahmr-video` command line. Each sub-command lives in its own function; user errors
(MetaHMRError) print one line and exit with status 2 unless --debug is given."""
from __future__ import annotations

import argparse
import os
import logging
import sys
import threading
from pathlib import Path

from metahmr_video.app import interrupts
from metahmr_video.core.errors import MetaHMRError

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # our own messages say what went wrong


def _cmd_demo(args: argparse.Namespace) -> int:
    """Pose the body model in a reaching pose and write its mesh (OBJ) and joints (NPZ)."""
    import numpy as np
    import torch

    from metahmr_video.body import load_body
    from metahmr_video.core.rotations import axis_angle_to_rotmat

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


def _load_config(args: argparse.Namespace):
    from metahmr_video.app.config import load_config, override

    cfg = load_config(args.config)
    changes: dict[str, object] = {}
    if getattr(args, "body", None) is not None:
        changes["adapt.body"] = str(args.body)
    if args.device is not None:
        changes["device"] = args.device
    if getattr(args, "steps", None) is not None:  # exactly these steps per person, however many people
        changes.update({"adapt.steps": args.steps, "adapt.frame_steps": None, "adapt.photo_steps": args.steps})
    if getattr(args, "checkpoint", None) is not None:
        changes["adapt.checkpoint"] = str(args.checkpoint)
    if getattr(args, "overlay", False) or getattr(args, "side_view", False):
        changes["output.overlay"] = True
    if getattr(args, "side_view", False):
        changes["output.side_view"] = True
    if getattr(args, "vertices", False):
        changes["output.vertices"] = True
    if getattr(args, "frame", None) is not None:
        changes["output.frame"] = args.frame
    if getattr(args, "focal", None) is not None:
        changes["adapt.focal"] = float(args.focal)
    return override(cfg, changes)


def _ensure_checkpoint(cfg, yes: bool) -> None:
    """For an SMPL/SMPL-X body without a trained checkpoint: say so in one line, then train it (with
    progress bars) when the user agrees (`--yes`, or 'y' at the prompt of an interactive terminal);
    otherwise a one-line error naming the exact train command (exit status 2)."""
    if cfg.adapt.body == "anny" or cfg.adapt.checkpoint is not None:
        return
    from metahmr_video.body import load_body
    from metahmr_video.model.checkpoint import TRAIN_TIME, MissingCheckpointError, default_checkpoint, train_command

    body = load_body(cfg.adapt.body)  # a bad model file fails here, in one line
    if default_checkpoint(body).is_file():
        return
    missing = f"no meta-checkpoint for {body.model_path.name} ({body.model_id}) yet"
    if not yes:
        if not sys.stdin.isatty():
            raise MissingCheckpointError(f"{missing}; train it ({TRAIN_TIME}) with: {train_command(body)}"
                                         " (or add --yes to train it now)")
        answer = input(f"metahmr-video: {missing}; training one takes {TRAIN_TIME}. Train it now? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise MissingCheckpointError(f"{missing}; train it later with: {train_command(body)}")
    else:
        print(f"metahmr-video: {missing}; training it now ({TRAIN_TIME})", file=sys.stderr)
    from metahmr_trainer.cli import train_for_body

    train_for_body(body.model_path, default_checkpoint(body))


def _cmd_run(args: argparse.Namespace) -> int:
    """Process videos, image sequences and photos into per-input results."""
    from metahmr_video.core.errors import InputError
    from metahmr_video.core.profiling import StageTimes
    from metahmr_video.app.runner import Runner, export_video, list_inputs, result_name, run_input

    cfg = _load_config(args)
    if args.rig is not None:
        from metahmr_video.export import RIGS

        if args.rig not in RIGS:
            raise InputError(f"unknown rig {args.rig!r}; use one of {', '.join(RIGS)}")
        if not args.export:
            raise InputError("--rig chooses the skeleton of --export files; add --export fbx|bvh|glb")
    inputs = list_inputs(args.input, images="photos" if args.photos else "sequence" if args.sequence else "auto")
    if len(inputs) == 1:
        from metahmr_video.sources import open_source

        open_source(str(inputs[0]))  # a bad single input fails here, before models load
    _ensure_checkpoint(cfg, args.yes)
    if args.ray is not None:
        from metahmr_video.app.distributed import run_distributed

        batch = run_distributed(inputs, args.output, cfg, address=args.ray or None, workers=args.workers,
                                formats=args.export, rig=args.rig, show_progress=not args.quiet)
        print(batch.line())
        return 1 if batch.failed else 0
    from metahmr_video.body.anny_body import DEFAULT_RIG, FULL_TOPOLOGY, anny_build_session, load_anny

    with anny_build_session() as parsed:  # a first use parses Anny's assets once for every model it builds
        runner = Runner(cfg)
        if runner.body.name == "anny" and ({"glb", "fbx"} & set(args.export) or parsed()):
            # the exported meshes; on a first use also while the assets are parsed (9 s more): every
            # later export, on any rig, then starts from a cached full mesh (E40)
            load_anny(DEFAULT_RIG, FULL_TOPOLOGY)
    done, skipped, damaged = 0, 0, 0
    for path in inputs:
        times = StageTimes() if args.profile else None
        try:
            summary = run_input(runner, path, args.output, show_progress=not args.quiet, times=times)
        except MetaHMRError as exc:
            if args.debug or len(inputs) == 1:
                raise
            print(f"metahmr-video: skipped {path}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        written = list(summary.outputs)
        if cfg.output.npz and summary.person_frames:
            written += export_video(args.output, result_name(path), args.export, args.rig, cfg.output.frame)
        print(f"{path.name}: {summary.line()}")
        for note in summary.notes:
            print(f"  {note}")
        print("  wrote " + ", ".join(str(w) for w in written))
        if times is not None:
            print(times.report())
        if summary.person_frames == 0:
            print(f"metahmr-video: no person found in {path}; wrote an empty result")
        if summary.interrupted:
            return 130
        if summary.truncated:
            message = (f"{path} is truncated or damaged; the results cover the {summary.frames} frames that "
                       "decoded")
            if len(inputs) == 1:
                raise InputError(message)
            print(f"metahmr-video: {message}", file=sys.stderr)
            damaged += 1
        else:
            done += 1
    if len(inputs) > 1:
        print(f"{len(inputs)} inputs: {done} done, {damaged} damaged (partial results kept), {skipped} skipped")
    return 1 if skipped or damaged else 0


def _cmd_webcam(args: argparse.Namespace) -> int:
    """Live: camera frames -> bodies, shown in a window (q ends) and written to OUT/webcam.npz."""
    from metahmr_video.core.profiling import StageTimes
    from metahmr_video.app.runner import Runner, run_webcam
    from metahmr_video.sources import WebcamSource

    cfg = _load_config(args)
    _ensure_checkpoint(cfg, args.yes)
    source = WebcamSource(args.camera, width=args.width, height=args.height, max_frames=args.max_frames)
    times = StageTimes()
    summary = run_webcam(Runner(cfg), source, args.output, window=not args.no_window, times=times)
    print(f"webcam: {summary.line()} -> {args.output / 'webcam.npz'}")
    if args.profile:
        print(times.report())
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    """Run benchmarks/run_all.py of the source checkout (benchmarks are not installed)."""
    import subprocess

    from metahmr_video.core.errors import InputError

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"
    if not script.is_file():
        raise InputError("the benchmarks ship with the source checkout (benchmarks/run_all.py); install with pip -e")
    cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else []) + (["--readme"] if args.readme else [])
    cmd += ["--only", args.only] if args.only else []
    return subprocess.call(cmd)


def _cmd_meshes(args: argparse.Namespace) -> int:
    """Results NPZ -> one PLY/OBJ mesh per track and frame (viz extra)."""
    from metahmr_video.app.viz import write_meshes

    paths = write_meshes(args.results, args.output, fmt=args.format, every=args.every)
    print(f"wrote {len(paths)} meshes to {args.output}")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    """Play the results' meshes in an open3d window (viz extra, needs a display)."""
    from metahmr_video.app.viz import view

    view(args.results)
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, default=Path("results"), help="output folder")
    p.add_argument("--config", type=Path, help="YAML/JSON config (see metahmr_video/app/config.py)")
    p.add_argument("--body", metavar="FILE", help="body model: 'anny' (default) or your SMPL/SMPL-X model file "
                                                  "(.pkl/.npz); its checkpoint is trained on first use")
    p.add_argument("--yes", action="store_true", help="train a missing SMPL/SMPL-X checkpoint without asking")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default: the config's (cpu)")
    p.add_argument("--steps", type=int, help="TTO steps per person and frame (default: the checkpoint's; "
                                             "a photo's people get 20)")
    p.add_argument("--checkpoint", type=Path, help="meta-checkpoint (default: the body model's own)")
    p.add_argument("--focal", type=float, metavar="PX",
                   help="the camera's focal length in pixels, when known (default: the image diagonal); "
                        "depth, the ground and the camera's pitch follow it")
    p.add_argument("--overlay", action="store_true", help="also write <name>_overlay.mp4 (photos: .png)")
    p.add_argument("--side-view", action="store_true", help="overlay with a side view panel")
    p.add_argument("--vertices", action="store_true", help="store mesh vertices in the NPZ")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--profile", action="store_true",
                   help="print milliseconds per frame by stage and the worst frame at the end")
    p.add_argument("--export", nargs="+", choices=["fbx", "bvh", "glb"], default=[],
                   help="also export each video's tracks as animation files (fbx needs the fbx extra)")
    from metahmr_video.export.cli import add_frame_option, add_rig_option

    add_rig_option(p)
    add_frame_option(p)


IMAGES_HELP = ("Images: a photo is processed on its own at its own size, without tracking or smoothing, into "
               "OUT/<stem>.npz (and OUT/<stem>_overlay.png with --overlay). A folder of images whose names are "
               "one prefix and evenly spaced numbers (frame_0001.png, frame_0002.png, ...) is a sequence: one "
               "video at 30 fps, OUT/<folder>.npz; any other folder of images is photos. --sequence or --photos "
               "overrides that.")

TRAINER_COMMANDS = {"train": "train the regressor and meta-parameters on generated data",
                    "evaluate": "MPJPE/PA-MPJPE vs TTO steps on real motion and generated data"}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the trainer (`train`, `evaluate`) is imported only when argv runs one of them."""
    from metahmr_video import __version__

    parser = argparse.ArgumentParser(prog="metahmr-video", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="pose the body model and write a mesh (no video needed)")
    demo.add_argument("-o", "--output", type=Path, default=Path("results"), help="output folder")
    demo.add_argument("--body", default="anny", help="'anny', 'anny-full' or a path to an SMPL/SMPL-X file")
    demo.set_defaults(func=_cmd_demo)
    run = sub.add_parser("run", help="videos, image sequences or photos -> NPZ (+ overlay MP4/PNG)",
                         description="Per-person 3D bodies for a video, a photo, or a folder of them.",
                         epilog=IMAGES_HELP)
    run.add_argument("input", type=Path, help="a video file; an image file (a photo); a folder of videos (each "
                     "processed); or a folder of images: a sequence (numbered frames) or photos (see below)")
    images = run.add_mutually_exclusive_group()
    images.add_argument("--sequence", action="store_true", help="a folder of images is one video (its frames)")
    images.add_argument("--photos", action="store_true", help="a folder of images is independent photos")
    _add_run_options(run)
    run.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                     help="process the videos on Ray (the ray extra): a local Ray on this machine, or the "
                          "cluster at ADDRESS ('auto', HOST:6379); inputs and output on shared storage")
    run.add_argument("--workers", type=int, help="with --ray: worker processes (default: one per CPU / threads)")
    run.set_defaults(func=_cmd_run)
    cam = sub.add_parser("webcam", help="live camera -> mesh over the image in a window, results to OUT/webcam.npz")
    cam.add_argument("--camera", type=int, default=0, help="OpenCV camera index")
    cam.add_argument("--no-window", action="store_true", help="headless: only write results")
    cam.add_argument("--width", type=int, help="requested camera frame width, pixels (default: the camera's)")
    cam.add_argument("--height", type=int, help="requested camera frame height, pixels (default: the camera's)")
    cam.add_argument("--max-frames", type=int, help="stop after this many frames")
    _add_run_options(cam)
    cam.set_defaults(func=_cmd_webcam)
    meshes = sub.add_parser("meshes", help="results NPZ -> PLY/OBJ mesh files per track and frame (viz extra)")
    meshes.add_argument("results", type=Path, help="a results .npz written by `metahmr-video run`")
    meshes.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    meshes.add_argument("--format", choices=["ply", "obj"], default="ply", help="mesh file format")
    meshes.add_argument("--every", type=int, default=1, help="every n-th frame")
    meshes.set_defaults(func=_cmd_meshes)
    viewer = sub.add_parser("view", help="play the results' meshes in a window (viz extra)")
    viewer.add_argument("results", type=Path, help="a results .npz written by `metahmr-video run`")
    viewer.set_defaults(func=_cmd_view)
    bench = sub.add_parser("benchmark", help="run every benchmark; one markdown report in benchmarks/results/")
    bench.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    bench.add_argument("--only", help="comma-separated benchmark names, e.g. pipeline,adaptation")
    bench.add_argument("--readme", action="store_true", help="also rewrite README.md's speed tables with the results")
    bench.set_defaults(func=_cmd_benchmark)
    from metahmr_video.export.cli import add_export_command

    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    if command in TRAINER_COMMANDS:
        from metahmr_trainer.cli import add_commands

        add_commands(sub, TRAINER_COMMANDS)
    else:
        for name, text in TRAINER_COMMANDS.items():
            sub.add_parser(name, help=text)
    add_export_command(sub)
    for action in sub._choices_actions:  # every sub-command's --help opens with its one-line summary
        command_parser = sub.choices[action.dest]
        if not command_parser.description:
            command_parser.description = action.help[0].upper() + action.help[1:] + "."
    return parser


def main(argv: list[str] | None = None) -> int:
    args = None
    if threading.current_thread() is threading.main_thread():
        interrupts.install()
    try:  # Ctrl-C at any point, the imports of start-up included, ends with one line
        args = build_parser(argv).parse_args(argv)
        if args.debug:  # the stages' reasons (e.g. a track not reported: metahmr_video.track.evidence_gate)
            logging.basicConfig(format="%(name)s: %(message)s")
            logging.getLogger("metahmr_video").setLevel(logging.DEBUG)
        status = args.func(args)
        if status == 0 and interrupts.requested():  # a library swallowed the KeyboardInterrupt
            raise KeyboardInterrupt
        return status
    except KeyboardInterrupt:
        print("metahmr-video: interrupted", file=sys.stderr)
        return 130
    except MetaHMRError as exc:
        if args is not None and args.debug:
            raise
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"metahmr-video: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
