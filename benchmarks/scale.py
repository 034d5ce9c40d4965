"""Many videos: serial `metahmr-video run` against the same run on a local Ray with 2 workers
(`--ray --workers 2`, one torch thread each), wall time of each command (model loading and Ray's
start included) and the ratio; the two output folders are checked to hold the same results.

Clips: `--clips` pieces of `--frames` frames each, cut one after the other from the example clip
(examples/media/pedestrians.mp4, 768x576, 10 fps, ~6 people) with PyAV.

    python benchmarks/scale.py [--clips 4] [--frames 25] [--out benchmarks/results/scale.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "media" / "pedestrians.mp4"


def cut_clips(source: Path, out_dir: Path, clips: int, frames: int) -> list[Path]:
    """Cut `clips` consecutive pieces of `frames` frames from `source` into out_dir/clip<k>.mp4
    (H.264, the source's frame rate and size)."""
    import av

    out_dir.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        rate = stream.average_rate
        decoded = []
        for frame in src.decode(stream):
            decoded.append(frame.to_ndarray(format="rgb24"))
            if len(decoded) == clips * frames:
                break
    if len(decoded) < clips * frames:
        raise ValueError(f"{source} has {len(decoded)} frames, fewer than {clips} x {frames}")
    paths = []
    for k in range(clips):
        path = out_dir / f"clip{k}.mp4"
        with av.open(str(path), "w") as dst:
            video = dst.add_stream("libx264", rate=rate, options={"crf": "18"})
            video.width, video.height, video.pix_fmt = decoded[0].shape[1], decoded[0].shape[0], "yuv420p"
            for image in decoded[k * frames:(k + 1) * frames]:
                dst.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            dst.mux(video.encode())
        paths.append(path)
    return paths


def same_results(a: Path, b: Path) -> bool:
    """Whether two output folders hold the same results NPZ files, key by key."""
    import numpy as np

    names = sorted(p.name for p in a.glob("*.npz"))
    if names != sorted(p.name for p in b.glob("*.npz")) or not names:
        return False
    for name in names:
        x, y = np.load(a / name), np.load(b / name)
        if sorted(x.files) != sorted(y.files) or any(not np.array_equal(x[k], y[k]) for k in x.files):
            return False
    return True


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    args = ap.parse_args()
    try:
        import ray  # noqa: F401
    except ImportError:
        print("skipped: the ray extra is not installed (pip install 'metahmr-video[ray]')")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cut_clips(EXAMPLE, tmp / "clips", args.clips, args.frames)
        cli = [sys.executable, "-m", "metahmr_video.app.cli", "run", str(tmp / "clips"), "-q"]
        serial = timed(cli + ["-o", str(tmp / "serial")])
        ray = timed(cli + ["-o", str(tmp / "ray"), "--ray", "--workers", "2"])
        same = same_results(tmp / "serial", tmp / "ray")
    row = dict(clips=args.clips, frames_each=args.frames, serial_s=serial, ray_2_workers_s=ray,
               speedup=serial / ray, same_results=same)
    print("| clips x frames | serial s | local Ray, 2 workers s | serial / Ray | same results |")
    print("|---|---|---|---|---|")
    print(f"| {args.clips} x {args.frames} | {serial:.1f} | {ray:.1f} | {serial / ray:.2f} | {same} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
