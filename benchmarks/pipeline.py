"""Pipeline speed against MediaPipe's own Pose solution, on the same decoded frames, in one run.

    python benchmarks/pipeline.py [--rounds 3] [--frames N] [--extra-steps 1,2,3] [--serial] [--one-thread] [--clips one,pedestrians] [--out benchmarks/results/pipeline.json]

For a one-person real clip (examples/media/single_person.mp4) and the pedestrian clip (~6 people),
each round times, one after the other on the same decoded frames:
- MediaPipe Pose: `mp.solutions.pose.Pose(model_complexity=1)` in video mode (one person);
- detect + track alone (`Pipeline.perceive`, serial);
- the pipeline as `run` builds it (overlapped stages, NPZ sink) with `--steps 0`, at the default
  steps, at any `--extra-steps`, (`--serial`) at the default steps with its stages not
  overlapped (`Config.overlap = False`), and (`--one-thread`) with the detector's LiteRT on one
  thread, overlapped and not.
The machine is shared and its load changes, so every ratio is taken within a round and the median
over rounds is reported; fps is the median too. "worst gap": the longest time between two
consecutive frames' results (a stall a viewer would see); "after the start": the same after the
detector's settle period (11 frames), for the pipeline rows. "CPU ms/frame": processor time of all the
process's threads per frame (MediaPipe's own threads included), which the machine's load inflates
far less than wall time. Per-stage milliseconds per frame come from
the default-steps run of the last round (`metahmr_video.core.profiling.StageTimes`; the stages overlap in
threads, so they add up to more than the time per frame).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from metahmr_video.app.config import Config, override
from metahmr_video.core.profiling import StageTimes
from metahmr_video.app.runner import Runner
from metahmr_video.sinks import NpzSink
from metahmr_video.sources import VideoSource

MEDIA = Path(__file__).resolve().parent.parent / "examples" / "media"
CLIPS = {"one person": MEDIA / "single_person.mp4", "pedestrians": MEDIA / "pedestrians.mp4"}
CLIP_KEYS = {"one": "one person", "pedestrians": "pedestrians"}


def mediapipe_pose(frames) -> tuple[float, float, float]:
    """(fps, worst gap ms, CPU ms per frame) of MediaPipe's Pose solution over the frames (RGB),
    video mode."""
    import mediapipe as mp

    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        pose.process(frames[0].image)  # graph start-up is not a frame
        cpu = time.process_time()
        ends = [time.perf_counter()]
        for f in frames:
            pose.process(f.image)
            ends.append(time.perf_counter())
        return _fps_gap(ends) + (1e3 * (time.process_time() - cpu) / len(frames),)


def _fps_gap(ends: list[float]) -> tuple[float, float]:
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    return len(gaps) / (ends[-1] - ends[0]), 1e3 * max(gaps)


def detect_track(runner: Runner, frames) -> tuple[float, float, float]:
    """(fps, worst gap ms, CPU ms per frame) of the detector and tracker alone, serial."""
    pipe = runner.pipeline(1000.0)
    pipe.reset()
    cpu = time.process_time()
    ends = [time.perf_counter()]
    for f in frames:
        pipe.perceive(f)
        ends.append(time.perf_counter())
    return _fps_gap(ends) + (1e3 * (time.process_time() - cpu) / len(frames),)


def pipeline(runner: Runner, frames, steps: int | None, out_dir: Path) -> tuple[float, float, float, float, StageTimes]:
    """(fps, worst gap ms, CPU ms per frame, worst gap ms after the start, stage times) of the
    pipeline as `run` builds it, with `steps` TTO steps per person like `run --steps` (None: the
    defaults, the frame budget `AdaptConfig.frame_steps` included). The start: the detector's
    settle period (`DetectorConfig.settle_frames`) and the frame before it."""
    before = runner.config
    if steps is not None:
        runner.config = override(before, {"adapt.steps": steps, "adapt.frame_steps": None})
    times = StageTimes()
    w, h = frames[0].width, frames[0].height
    focal = float((w * w + h * h) ** 0.5)
    sink = NpzSink(out_dir / "bench.npz", runner.meta("bench", w, h, 30.0, focal))
    cpu = time.process_time()
    start = time.perf_counter()
    summary = runner.pipeline(focal, times=times).run(iter(frames), [sink])
    fps = summary.frames / (time.perf_counter() - start)
    runner.config = before
    cpu_ms = 1e3 * (time.process_time() - cpu) / len(frames)
    steady = times.summary(skip=runner.config.detector.settle_frames + 1)["worst_gap"]
    return fps, times.summary()["worst_gap"]["ms"], cpu_ms, steady["ms"] if steady else float("nan"), times


def measure(runner: Runner, frames, rounds: int, out_dir: Path, extra_steps: list[int], serial: bool,
            one_thread: Runner | None = None) -> dict:
    k = runner.fitter.default_steps
    budget = runner.config.adapt.frame_steps
    default = f"pipeline, K = {k} (default)" if budget is None else f"pipeline, default: K = {k}, <= {budget} person-steps/frame"
    rows: dict[str, list] = {"MediaPipe Pose": [], "detect + track": [], "pipeline, --steps 0": [],
                             **{f"pipeline, --steps {e}": [] for e in extra_steps}, default: []}
    if serial:
        rows[f"pipeline, K = {k}, stages not overlapped"] = []
    if one_thread is not None:
        rows[f"pipeline, K = {k}, detector on 1 thread"] = []
        rows[f"pipeline, K = {k}, detector on 1 thread, not overlapped"] = []
    times = None
    for _ in range(rounds):
        rows["MediaPipe Pose"].append(mediapipe_pose(frames) + (float("nan"),))
        rows["detect + track"].append(detect_track(runner, frames) + (float("nan"),))
        for e in [0, *extra_steps]:
            rows[f"pipeline, --steps {e}"].append(pipeline(runner, frames, e, out_dir)[:4])
        *row, times = pipeline(runner, frames, None, out_dir)
        rows[default].append(tuple(row))
        if serial:
            runner.config = override(runner.config, {"overlap": False})
            rows[f"pipeline, K = {k}, stages not overlapped"].append(pipeline(runner, frames, None, out_dir)[:4])
            runner.config = override(runner.config, {"overlap": True})
        if one_thread is not None:
            rows[f"pipeline, K = {k}, detector on 1 thread"].append(pipeline(one_thread, frames, None, out_dir)[:4])
            one_thread.config = override(one_thread.config, {"overlap": False})
            rows[f"pipeline, K = {k}, detector on 1 thread, not overlapped"].append(pipeline(one_thread, frames, None, out_dir)[:4])
            one_thread.config = override(one_thread.config, {"overlap": True})
    table = []
    for name, vals in rows.items():
        ratio = {ref: statistics.median(v[0] / r[0] for v, r in zip(vals, rows[ref]))
                 for ref in ("MediaPipe Pose", "detect + track", "pipeline, --steps 0")}
        table.append(dict(variant=name, fps=statistics.median(v[0] for v in vals), worst_gap_ms=max(v[1] for v in vals),
                          cpu_ms=statistics.median(v[2] for v in vals), worst_gap_after_start_ms=max(v[3] for v in vals),
                          **{f"x {k}": v for k, v in ratio.items()}))
    return dict(rows=table, stages=times.summary())


def markdown(name: str, clip: Path, frames, result: dict) -> str:
    f = frames[0]
    lines = [f"**{name}** (`{clip.name}`, {f.width}x{f.height}, {len(frames)} frames)", "",
             "| variant | fps | x MediaPipe Pose | x detect + track | x --steps 0 | worst gap ms | after the start | CPU ms/frame |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        after = "" if r["worst_gap_after_start_ms"] != r["worst_gap_after_start_ms"] else f"{r['worst_gap_after_start_ms']:.0f}"
        lines.append(f"| {r['variant']} | {r['fps']:.1f} | {r['x MediaPipe Pose']:.2f} | {r['x detect + track']:.2f} "
                     f"| {r['x pipeline, --steps 0']:.2f} | {r['worst_gap_ms']:.0f} | {after} | {r['cpu_ms']:.0f} |")
    s = result["stages"]
    lines += ["", "| stage (default steps) | ms/frame | max ms |", "|---|---|---|"]
    for stage, v in s["stages"].items():
        lines.append(f"| {stage} | {v['ms_per_frame']:.1f} | {v['max_ms']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default: all 100)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pipeline.json"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--extra-steps", default="", help="also the pipeline at these K, e.g. 1,2,3")
    parser.add_argument("--serial", action="store_true", help="also the pipeline with its stages not overlapped")
    parser.add_argument("--clips", default="one,pedestrians", help="which clips: one, pedestrians or both")
    parser.add_argument("--one-thread", action="store_true",
                        help="also the pipeline with the detector's LiteRT on 1 thread, overlapped and not")
    args = parser.parse_args()
    cfg = override(Config(), {"device": args.device})
    runner = Runner(cfg)
    one_thread = None
    if args.one_thread:
        one_thread = Runner(override(cfg, {"detector.num_threads": 1}))
    print(f"device: {runner.device}, torch threads {torch.get_num_threads()}, TTO steps default "
          f"{runner.fitter.default_steps}; median of {args.rounds} rounds, ratios within a round\n")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [CLIP_KEYS[c.strip()] for c in args.clips.split(",")]:
            clip = CLIPS[name]
            frames = list(VideoSource(clip, max_frames=args.frames))
            extra = [int(e) for e in args.extra_steps.split(",") if e.strip()]
            results[name] = measure(runner, frames, args.rounds, Path(tmp), extra, args.serial, one_thread)
            print(markdown(name, clip, frames, results[name]) + "\n", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(device=runner.device, rounds=args.rounds, clips=results), indent=2))


if __name__ == "__main__":
    main()
