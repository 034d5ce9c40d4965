"""Pipeline throughput on the real example clip, and the cost of N people in one batch vs N
separate adaptations. One table (markdown) + JSON, ratios side by side, CPU (and CUDA when present).

    python benchmarks/pipeline.py [--frames 40] [--out benchmarks/results/pipeline.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from metahmr_video.config import Config
from metahmr_video.runner import Runner
from metahmr_video.sources import VideoSource

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"


def _fps(fn, frames: int) -> float:
    start = time.perf_counter()
    fn()
    return frames / (time.perf_counter() - start)


def pipeline_rows(runner: Runner, frames: int) -> list[dict]:
    src = VideoSource(CLIP, max_frames=frames)
    images = list(src)
    focal = float(np.hypot(src.width, src.height))
    rows = [dict(stage="decode only", fps=_fps(lambda: list(VideoSource(CLIP, max_frames=frames)), frames))]

    def detect_track():
        runner.detector.reset()
        runner.tracker.reset()
        for f in images:
            runner.tracker.update(runner.detector.detect(f, hints=runner.tracker.predictions(), full=None), f.image)

    rows.append(dict(stage="detect + track", fps=_fps(detect_track, frames)))
    for steps in (0, runner.fitter.default_steps):
        runner.config.adapt.steps = steps
        pipe = runner.pipeline(focal)
        rows.append(dict(stage=f"full pipeline, K={steps}", fps=_fps(lambda: pipe.run(iter(images), []), frames)))
    base = rows[1]["fps"]
    for r in rows:
        r["x_detect_track"] = r["fps"] / base
    return rows


def batch_rows(runner: Runner, steps: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in (1, 2, 4, 8, 16):
        kp = rng.uniform(200, 400, size=(n, 33, 2)).astype(np.float32)
        conf = np.ones((n, 33), np.float32)
        world = rng.normal(scale=0.3, size=(n, 33, 3)).astype(np.float32)
        boxes = np.tile(np.array([[150, 100, 450, 500]], np.float32), (n, 1))

        def batched():
            runner.fitter.fit(kp, conf, world, boxes, (640, 480), steps=steps)

        def looped():
            for i in range(n):
                runner.fitter.fit(kp[i:i + 1], conf[i:i + 1], world[i:i + 1], boxes[i:i + 1], (640, 480), steps=steps)

        batched()
        t_b = 1000 / _fps(batched, 1)
        t_l = 1000 / _fps(looped, 1)
        rows.append(dict(people=n, steps=steps, batched_ms=t_b, loop_ms=t_l, loop_over_batched=t_l / t_b))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pipeline.json"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(2)
    cfg = Config()
    cfg.device = args.device
    runner = Runner(cfg)
    rows = pipeline_rows(runner, args.frames)
    brows = batch_rows(runner, runner.fitter.default_steps)
    print(f"device: {runner.device}, clip: {CLIP.name} (768x576, ~6 people), {args.frames} frames")
    print("| stage | fps | x detect+track |\n|---|---|---|")
    for r in rows:
        print(f"| {r['stage']} | {r['fps']:.2f} | {r['x_detect_track']:.2f} |")
    print("\n| people | K | one batch ms | N separate ms | separate / batch |\n|---|---|---|---|---|")
    for r in brows:
        print(f"| {r['people']} | {r['steps']} | {r['batched_ms']:.1f} | {r['loop_ms']:.1f} | {r['loop_over_batched']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(device=runner.device, pipeline=rows, batching=brows), indent=2))


if __name__ == "__main__":
    main()
