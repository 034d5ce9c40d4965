"""Export timing: a results NPZ of 5 tracks x 1,000 frames (Anny, 25 fps, smooth random motion, one
gap per track) exported as BVH, GLB and FBX (when bpy is installed), one file per track and all
tracks in one file, with and without the body mesh. Prints a markdown table (seconds, output MB)
and writes JSON.

    python benchmarks/export.py [--frames 1000] [--tracks 5] [--out benchmarks/results/export.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_video.sinks import NpzSink


def write_results(path: Path, frames: int, tracks: int, num_bones: int = 31, fps: float = 25.0) -> Path:
    """A synthetic Anny results NPZ: the exporters read pose, shape and transl (joints are not used)."""
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None, None]
    sink = NpzSink(path, dict(body_model="anny", fps=fps, image_size=[1280, 720]), flush_every_s=1e9)
    poses, shapes = [], []
    for k in range(tracks):
        aa = 0.4 * np.sin(t / rng.uniform(4, 12, size=(1, num_bones, 3)) + rng.uniform(0, 6, size=(1, num_bones, 3)))
        aa[:, 0] = [np.pi / 2, 0.0, 0.0]
        poses.append(axis_angle_to_rotmat(torch.tensor(aa, dtype=torch.float32)).numpy())
        shapes.append(rng.uniform(0.3, 0.7, size=6).astype(np.float32))
    zeros33 = np.zeros((33, 3), np.float32)
    for i in range(frames):
        people = []
        for k in range(tracks):
            if (i + 97 * k) % 400 in range(10):      # each track leaves the view for 10 frames now and then
                continue
            transl = np.array([k - tracks / 2, 0.2, 4.0 + 0.3 * np.sin(i / 50)], np.float32)
            people.append(PersonBody(
                track_id=k + 1, frame_index=i, time_s=i / fps, pose=poses[k][i], shape=shapes[k], transl=transl,
                joints=np.zeros((num_bones, 3), np.float32), keypoints3d=zeros33, keypoints2d=zeros33[:, :2],
                keypoint_conf=np.ones(33, np.float32), box=np.zeros(4, np.float32), reproj_error=0.0))
        sink.write(Frame(index=i, time_s=i / fps, image=np.zeros((1, 1, 3), np.uint8)), people)
    sink.close()
    return path


def run(frames: int, tracks: int) -> list[dict]:
    from metahmr_video.core.results import load_results
    from metahmr_video.export import export, track_animation

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = write_results(tmp / "bench.npz", frames, tracks)
        start = time.perf_counter()
        loaded = load_results(results)
        track_animation(loaded, 1, "y_up", with_mesh=True)   # Anny models built and cached once
        rows.append(dict(case="load results + build Anny full mesh (first track)",
                         seconds=time.perf_counter() - start, mb=0.0))
        try:
            import bpy  # noqa: F401
            formats = ["bvh", "glb", "fbx"]
        except ImportError:
            formats = ["bvh", "glb"]
        for fmt in formats:
            for per_track in (True, False):
                if fmt == "bvh" and not per_track:
                    continue
                for mesh in ((False,) if fmt == "bvh" else (True, False)):
                    out = tmp / f"{fmt}_{per_track}_{mesh}"
                    start = time.perf_counter()
                    paths = export(loaded, fmt, out, per_track=per_track, mesh=mesh)
                    seconds = time.perf_counter() - start
                    rows.append(dict(case=f"{fmt} {'per track' if per_track else 'one file'}"
                                          f"{', mesh' if mesh else ', skeleton only'}",
                                     seconds=seconds, files=len(paths),
                                     mb=sum(p.stat().st_size for p in paths) / 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/export.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = run(args.frames, args.tracks)
    print(f"{args.tracks} tracks x {args.frames} frames\n")
    print("| case | seconds | output MB |\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['seconds']:.2f} | {r['mb']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(frames=args.frames, tracks=args.tracks, rows=rows), indent=2))


if __name__ == "__main__":
    main()
