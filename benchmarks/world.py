"""The world's cost per frame (metahmr_video.world): what `NpzSink` adds to a run.

Replays a video's frames and a results file's people through `WorldEstimator.observe` (the bodies'
evidence every frame, the straight edges at half size once a second, with the background-motion
check), and times `estimate` + `track_in_world` for every track (what each write of the NPZ adds),
the first frame's `focal_from_edges`, and `up_from_horizontals` on the pooled edges (what a known
focal adds once per edge look). Reports milliseconds per frame (wall) and per call.

    python benchmarks/world.py [VIDEO RESULTS.npz] [--out benchmarks/results/world.json]

Default: the pedestrian clip and a fresh run of it (7 people, 768x576).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from metahmr_video.body import body_family
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.results import load_results
from metahmr_video.sources import VideoSource
from metahmr_video.world import WorldEstimator, focal_from_edges, leg_chains, track_in_world
from metahmr_video.world.lines import up_from_horizontals

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"


def _people(results, index: int) -> list[PersonBody]:
    out = []
    for t in results.tracks.values():
        rows = np.flatnonzero(t.frame_ids == index)
        if len(rows):
            i = rows[0]
            out.append(PersonBody(t.track_id, index, float(t.time_s[i]), t.pose[i], t.shape[i], t.transl[i], t.joints[i],
                                  t.keypoints3d[i], t.keypoints2d[i], t.keypoint_conf[i], t.boxes[i], float(t.reproj_error[i])))
    return out


def measure(video: Path, results_path: Path) -> dict:
    results = load_results(results_path)
    frames = list(VideoSource(str(video)))
    start = time.perf_counter()
    focal_from_edges(frames[0].image)
    focal_ms = (time.perf_counter() - start) * 1000
    est = WorldEstimator(np.array(results.meta["intrinsics"]))
    per_frame = []
    for f in frames:
        people = _people(results, f.index)
        start = time.perf_counter()
        est.observe(Frame(f.index, f.time_s, f.image), people)
        per_frame.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    up_from_horizontals(np.concatenate(est.normals), np.concatenate(est.lengths), np.array([0.0, -1.0, 0.0]))
    horizontals_ms = (time.perf_counter() - start) * 1000  # with a known focal, once per edge look (E72)
    start = time.perf_counter()
    world = est.estimate()
    parents = results.meta["parents"]
    legs = leg_chains(results.meta["joint_names"], body_family(results.meta["body_model"]).leg_joints)
    for t in results.tracks.values():
        track_in_world(world, t.time_s, t.keypoints3d, t.keypoints2d, t.boxes, t.joints, t.transl, t.pose,
                       parents[:t.pose.shape[1]], legs)
    flush_ms = (time.perf_counter() - start) * 1000
    per_frame = np.array(per_frame)
    return {"video": video.name, "size": list(frames[0].image.shape[1::-1]), "frames": len(frames),
            "person_frames": int(sum(len(t.frame_ids) for t in results.tracks.values())),
            "observe_ms_per_frame_mean": round(float(per_frame.mean()), 2),
            "observe_ms_per_frame_median": round(float(np.median(per_frame)), 2),
            "observe_ms_max (a frame with an edge look)": round(float(per_frame.max()), 1),
            "estimate_and_tracks_ms_per_write": round(flush_ms, 1),
            "up_from_horizontals_ms_per_look (known focal)": round(horizontals_ms, 1),
            "focal_from_edges_ms_once": round(focal_ms, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, default=CLIP)
    ap.add_argument("results", nargs="?", type=Path, help="results NPZ of VIDEO (default: run it now)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "world.json")
    a = ap.parse_args()
    results = a.results
    if results is None:
        from metahmr_video.app.config import Config
        from metahmr_video.app.runner import Runner, run_input

        tmp = Path(tempfile.mkdtemp())
        run_input(Runner(Config()), a.video, tmp, show_progress=False)
        results = tmp / f"{a.video.stem}.npz"
    res = measure(a.video, results)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    print("| " + " | ".join(res) + " |\n|" + "---|" * len(res) + "\n| " + " | ".join(str(v) for v in res.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
