"""Long-stream memory: the real example clip's detections replayed in a loop as one long stream
(`--minutes` of video at the clip's frame rate) through tracker, batched adaptation and smoothing.
Reports resident memory (VmRSS) at start, after warm-up, and at the end, plus the throughput.
The NPZ sink is left out on purpose: it must hold each track until it is written.

    python benchmarks/memory.py --minutes 30 [--steps K] [--out benchmarks/results/memory.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from metahmr_video.app.config import Config, override
from metahmr_video.core.records import Frame
from metahmr_video.app.runner import Runner
from metahmr_video.sources import VideoSource

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Replay:
    """A detector that returns the cached detections of frame `i % len(cache)`."""

    def __init__(self, cache: list) -> None:
        self.cache, self.i = cache, 0

    def reset(self) -> None:
        self.i = 0

    def detect(self, frame, hints=(), full=None):
        dets = self.cache[self.i % len(self.cache)]
        self.i += 1
        return [dataclasses.replace(d) for d in dets]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--checkpoint", help="default: the shipped one")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    cfg = override(Config(), {"adapt.steps": args.steps, "adapt.checkpoint": args.checkpoint})
    runner = Runner(cfg)
    src = VideoSource(CLIP)
    clip = list(src)
    cache = [runner.detector.detect(f, hints=(), full=True) for f in clip[:1]]
    runner.detector.reset()
    for f in clip[1:]:
        cache.append(runner.detector.detect(f, hints=cache[-1], full=None))
    pipe = runner.pipeline(float(np.hypot(src.width, src.height)))
    pipe.detector = Replay(cache)
    total = int(args.minutes * 60 * src.fps)

    def stream():
        for i in range(total):
            yield Frame(index=i, time_s=i / src.fps, image=clip[i % len(clip)].image)

    samples = []
    start_rss = rss_mb()
    t0 = time.perf_counter()

    def progress(s):
        if s.frames % 500 == 0 or s.frames == total:
            samples.append((s.frames, rss_mb()))

    summary = pipe.run(stream(), [], progress=progress)
    seconds = time.perf_counter() - t0
    warm = next((m for f, m in samples if f >= 500), samples[0][1])
    result = dict(stream_minutes=args.minutes, frames=summary.frames, person_frames=summary.person_frames,
                  tracks=len(summary.tracks), seconds=seconds, fps=summary.frames / seconds,
                  rss_start_mb=start_rss, rss_after_500_frames_mb=warm, rss_end_mb=samples[-1][1],
                  growth_after_warmup_mb=samples[-1][1] - warm, samples=samples)
    print(f"{args.minutes} min stream ({summary.frames} frames, {summary.person_frames} person-frames, "
          f"{len(summary.tracks)} track ids) in {seconds:.0f} s ({result['fps']:.1f} fps): RSS start "
          f"{start_rss:.0f} MiB, after 500 frames {warm:.0f} MiB, end {samples[-1][1]:.0f} MiB "
          f"(growth after warm-up {result['growth_after_warmup_mb']:+.1f} MiB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
