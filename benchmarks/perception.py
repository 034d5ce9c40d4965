"""Perception benchmark: decode fps, detector ms/frame against the number of people, tracker
ms/frame, detection recall/precision on the hand-labelled pedestrian frames, and the whole
pipeline's recall per visible person-frame there (a person counts as found when the run reports a
body for them in that frame); with --photos, the labelled frames' recall as photos.

    python benchmarks/perception.py [--frames 60] [--threads 2] [--recall-only | --schedules | --photos]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
MEDIA = os.path.join(ROOT, "examples", "media")

from metahmr_video.detect import DetectorConfig, MultiPersonDetector  # noqa: E402
from metahmr_video.core.records import Detection, Frame  # noqa: E402
from metahmr_video.sources import VideoSource  # noqa: E402
from metahmr_video.track import Tracker, TrackerConfig  # noqa: E402


def match_counts(boxes: Sequence[np.ndarray], centres: Sequence[Sequence[float]]) -> Tuple[int, int, int]:
    """(true positives, detections, labels): a detection matches a labelled centre lying inside its
    box; one-to-one (Hungarian on distance to the box centre)."""
    from scipy.optimize import linear_sum_assignment

    if not len(boxes) or not len(centres):
        return 0, len(boxes), len(centres)
    b = np.asarray(boxes, float).reshape(-1, 4)
    c = np.asarray(centres, float).reshape(-1, 2)
    inside = ((c[None, :, 0] >= b[:, None, 0]) & (c[None, :, 0] <= b[:, None, 2]) &
              (c[None, :, 1] >= b[:, None, 1]) & (c[None, :, 1] <= b[:, None, 3]))
    bc = (b[:, :2] + b[:, 2:]) / 2
    cost = np.linalg.norm(bc[:, None] - c[None], axis=2) + np.where(inside, 0, 1e6)
    r, k = linear_sum_assignment(cost)
    tp = int(sum(inside[i, j] for i, j in zip(r, k)))
    return tp, len(b), len(c)


def load_labels() -> Dict[int, List[List[float]]]:
    with open(os.path.join(MEDIA, "pedestrians_labels.json")) as f:
        return {int(k): v for k, v in json.load(f)["frames"].items()}


def detect_and_track(frames, det: MultiPersonDetector, tracker: Tracker):
    """Yield (frame, tracked people): the tracker's predictions are the detector's hints (as in
    `Pipeline.step`)."""
    det.reset()
    tracker.reset()
    for frame in frames:
        yield frame, tracker.update(det.detect(frame, hints=tracker.predictions(), full=None), frame.image)


def accuracy(det: MultiPersonDetector, labels: Dict[int, List[List[float]]]) -> Tuple[float, float, float]:
    """Recall, precision, ms/frame of single-frame detection (no hints) on the labelled frames."""
    tp = nd = nl = 0
    times = []
    for frame in VideoSource(os.path.join(MEDIA, "pedestrians.mp4")):
        if frame.index not in labels:
            continue
        t = time.perf_counter()
        people = det.detect(frame)
        times.append(time.perf_counter() - t)
        a, b, c = match_counts([p.box for p in people], labels[frame.index])
        tp, nd, nl = tp + a, nd + b, nl + c
    return tp / max(nl, 1), tp / max(nd, 1), 1e3 * float(np.mean(times))


def in_context(config: DetectorConfig, clip: str = "pedestrians.mp4", labels: Dict[int, List[List[float]]] | None = None,
               frames: int | None = None) -> Dict[str, float]:
    """The detector as the pipeline runs it (tracker predictions as hints, `detect(..., full=None)`
    schedule) over a clip: recall/precision of its detections on the labelled frames (if any),
    CPU ms per frame of all the process's threads (LiteRT's and OpenCV's included; mean, max after
    the first frame, which always searches everything, and max after the start: the first
    `settle_frames` + 1 frames) and wall ms per frame (max after the start)."""
    det, tracker = MultiPersonDetector(config), Tracker()
    tp = nd = nl = 0
    cpu, wall = [], []
    for frame in VideoSource(os.path.join(MEDIA, clip), max_frames=frames):
        t, c = time.perf_counter(), time.process_time()
        people = det.detect(frame, hints=tracker.predictions(), full=None)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
        tracker.update(people, frame.image)
        if labels and frame.index in labels:
            a, b, n = match_counts([p.box for p in people], labels[frame.index])
            tp, nd, nl = tp + a, nd + b, nl + n
    return dict(recall=tp / max(nl, 1), precision=tp / max(nd, 1), found=tp, labelled=nl,
                cpu_ms=1e3 * float(np.mean(cpu)), cpu_max_ms=1e3 * float(np.max(cpu[1:])),
                cpu_steady_max_ms=1e3 * float(np.max(cpu[config.settle_frames + 1:])),
                wall_steady_max_ms=1e3 * float(np.max(wall[config.settle_frames + 1:])))


SCHEDULES = {
    "HOG's whole pyramid every 5th frame, never resting (before)": dict(settled_search_every=0),
    "resting while settled, rounds searched whole": dict(spread_hog=False),
    "resting while settled, rounds spread over 5 frames (default)": dict(),
}


class _Boxes:
    """A sink keeping each frame's reported boxes."""

    def __init__(self) -> None:
        self.boxes: Dict[int, List[np.ndarray]] = {}

    def write(self, frame, people) -> None:
        self.boxes[frame.index] = [p.box for p in people]

    def close(self) -> None:
        pass


def pipeline_recall(config: DetectorConfig, labels: Dict[int, List[List[float]]]) -> Tuple[int, int, int, Dict[int, int]]:
    """The pipeline (this detector config, default tracker and smoother, TTO with 0 steps) over the
    clip up to its last labelled frame: (found, reported, labelled person-frames, misses per frame)."""
    from metahmr_video.app.config import Config, override
    from metahmr_video.app.runner import Runner

    cfg = override(Config(detector=config), {"adapt.steps": 0})
    runner = Runner(cfg)
    src = VideoSource(os.path.join(MEDIA, "pedestrians.mp4"), max_frames=max(labels) + 1)
    sink = _Boxes()
    runner.pipeline(float(np.hypot(src.width, src.height))).run(iter(src), [sink])
    tp = nd = nl = 0
    misses = {}
    for index, centres in labels.items():
        a, b, c = match_counts(sink.boxes.get(index, []), centres)
        tp, nd, nl = tp + a, nd + b, nl + c
        misses[index] = c - a
    return tp, nd, nl, misses


def photo_recall(config: DetectorConfig, labels: Dict[int, List[List[float]]]) -> Tuple[int, int, int, Dict[int, int]]:
    """The labelled frames written as PNG photos and run through `run`'s photo path (this detector
    config, default fitting): (found, reported, labelled people, misses per frame)."""
    import tempfile
    from pathlib import Path

    import cv2

    from metahmr_video.app.config import Config
    from metahmr_video.app.runner import Runner, run_input
    from metahmr_video.core.results import load_results

    runner = Runner(Config(detector=config))
    tp = nd = nl = 0
    misses = {}
    with tempfile.TemporaryDirectory() as tmp:
        for frame in VideoSource(os.path.join(MEDIA, "pedestrians.mp4"), max_frames=max(labels) + 1):
            if frame.index not in labels:
                continue
            photo = Path(tmp) / f"frame{frame.index:03d}.png"
            cv2.imwrite(str(photo), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
            run_input(runner, photo, Path(tmp) / "out", show_progress=False)
            res = load_results(Path(tmp) / "out" / f"{photo.stem}.npz")
            a, b, c = match_counts([t.boxes[0][:4] for t in res.tracks.values()], labels[frame.index])
            tp, nd, nl = tp + a, nd + b, nl + c
            misses[frame.index] = c - a
    return tp, nd, nl, misses


def schedule_rows(threads: int, labels: Dict[int, List[List[float]]]) -> List[Tuple[str, str]]:
    """Each search schedule (SCHEDULES) on both clips: the run's and the detector's recall on the
    labelled pedestrian frames, CPU per frame (mean, max after the first frame)."""
    rows = []
    for name, kw in SCHEDULES.items():
        ped = in_context(DetectorConfig(num_threads=threads, **kw), labels=labels)
        one = in_context(DetectorConfig(num_threads=threads, **kw), clip="single_person.mp4")
        found, _, labelled, _ = pipeline_recall(DetectorConfig(num_threads=threads, **kw), labels)
        rows.append((f"schedule: {name}",
                     f"pedestrians: the run finds {found}/{labelled}, the detector {ped['found']}/{ped['labelled']} "
                     f"(precision {ped['precision']:.2f}), CPU {ped['cpu_ms']:.0f} ms/frame (max {ped['cpu_max_ms']:.0f}); "
                     f"one person CPU {one['cpu_ms']:.0f} ms/frame (max {one['cpu_max_ms']:.0f}; after the start "
                     f"{one['cpu_steady_max_ms']:.0f}, wall {one['wall_steady_max_ms']:.0f})"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recall-only", action="store_true", help="only the pipeline's recall on the labelled frames")
    ap.add_argument("--schedules", action="store_true", help="only the search schedules (when to look for new people)")
    ap.add_argument("--photos", action="store_true", help="only the labelled frames' recall as photos (`run --photos`)")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(args.threads)
    labels = load_labels()
    if args.schedules:
        for a, b in schedule_rows(args.threads, labels):
            print(f"{a} | {b}", flush=True)
        return
    if args.photos:
        tp, nd, nl, misses = photo_recall(DetectorConfig(num_threads=args.threads), labels)
        print(f"photos: recall {tp}/{nl} = {tp / max(nl, 1):.3f}, precision {tp / max(nd, 1):.2f}; misses per "
              f"labelled frame {misses}", flush=True)
        return
    for name, config in [("default", DetectorConfig(num_threads=args.threads)),
                         ("without segmentation and lost-track search",
                          DetectorConfig(use_segmentation=False, search_lost=False, num_threads=args.threads))]:
        tp, nd, nl, misses = pipeline_recall(config, labels)
        print(f"pipeline, {name}: recall {tp}/{nl} = {tp / max(nl, 1):.2f} per visible person-frame, precision "
              f"{tp / max(nd, 1):.2f}; misses per labelled frame {misses}", flush=True)
    if args.recall_only:
        return
    video = os.path.join(MEDIA, "pedestrians.mp4")
    rows: List[Tuple[str, str]] = []

    t = time.perf_counter()
    n = sum(1 for _ in VideoSource(video))
    rows.append(("decode 768x576 H.264 (PyAV)", f"{n / (time.perf_counter() - t):.0f} fps"))

    det = MultiPersonDetector(DetectorConfig(tiles=2, full_every=1, num_threads=args.threads))
    frames = list(VideoSource(video, max_frames=args.frames))
    from metahmr_video.sources import read_image

    # detector stages on one image
    img = frames[0].image
    for name, fn in [
        ("pose detector, whole image", lambda: det.pose_detector(img, tiles=1)),
        ("pose detector, + 2x2 tiles", lambda: det.pose_detector(img, tiles=2)),
        ("HOG people (x1.6 upscale)", lambda: det.hog(img)),
    ]:
        fn()
        t = time.perf_counter()
        for _ in range(3):
            fn()
        rows.append((name, f"{(time.perf_counter() - t) / 3 * 1e3:.1f} ms"))

    # landmark model cost against the number of people (re-crop path, hints = last frame's people)
    by_n: Dict[int, List[float]] = defaultdict(list)
    people = det.detect(frames[0])
    for f in frames[1:]:
        for k in range(1, len(people) + 1):
            t = time.perf_counter()
            det.detect(f, hints=people[:k], full=False)
            by_n[k].append(time.perf_counter() - t)
        people = det.detect(f, hints=people, full=False) or det.detect(f)
        if len(by_n[1]) >= 5:
            break
    for k in sorted(by_n):
        rows.append((f"detector, tracked crops, {k} people", f"{1e3 * np.mean(by_n[k]):.1f} ms/frame"))
    astro = Frame(0, 0.0, read_image(os.path.join(MEDIA, "astronaut.jpg")))
    det.detect(astro)
    t = time.perf_counter()
    for _ in range(3):
        det.detect(astro)
    rows.append(("detector, full search, 1 person (512x512)", f"{(time.perf_counter() - t) / 3 * 1e3:.1f} ms/frame"))

    # full pipeline and the tracker alone
    tracker = Tracker(TrackerConfig(min_hits=3))
    dets_per_frame: List[List[Detection]] = []
    t = time.perf_counter()
    npeople = []
    for frame, tracked in detect_and_track(frames, det, tracker):
        dets_per_frame.append([p.detection for p in tracked if not p.predicted])
        npeople.append(len(tracked))
    dt = time.perf_counter() - t
    rows.append((f"detect+track pipeline (full search every {det.config.full_every}), mean {np.mean(npeople):.1f} people",
                 f"{dt / len(frames) * 1e3:.0f} ms/frame"))
    det_every5 = MultiPersonDetector(DetectorConfig(tiles=2, full_every=5, num_threads=args.threads))
    t = time.perf_counter()
    for _ in detect_and_track(frames, det_every5, Tracker(TrackerConfig(min_hits=3))):
        pass
    rows.append(("detect+track pipeline (full search every 5)", f"{(time.perf_counter() - t) / len(frames) * 1e3:.0f} ms/frame"))
    tr = Tracker(TrackerConfig(min_hits=3))
    t = time.perf_counter()
    for ds, f in zip(dets_per_frame, frames):
        tr.update(ds, f.image)
    rows.append(("tracker alone (with appearance)", f"{(time.perf_counter() - t) / len(frames) * 1e3:.2f} ms/frame"))
    tr = Tracker(TrackerConfig(min_hits=3))
    t = time.perf_counter()
    for ds in dets_per_frame:
        tr.update(ds)
    rows.append(("tracker alone (no image)", f"{(time.perf_counter() - t) / len(frames) * 1e3:.2f} ms/frame"))

    for name, d in [
        ("default (pose detector + tiles + HOG)", det),
        ("pose detector only, whole image", MultiPersonDetector(DetectorConfig(tiles=1, use_hog=False, full_every=1, num_threads=args.threads))),
        ("pose detector only, + 2x2 tiles", MultiPersonDetector(DetectorConfig(tiles=2, use_hog=False, full_every=1, num_threads=args.threads))),
        ("HOG boxes only", MultiPersonDetector(DetectorConfig(tiles=2, use_blazepose=False, full_every=1, num_threads=args.threads))),
    ]:
        r, p, ms = accuracy(d, labels)
        rows.append((f"recall/precision, {name}", f"{r:.2f} / {p:.2f} ({ms:.0f} ms/frame)"))

    rows += schedule_rows(args.threads, labels)

    w = max(len(a) for a, _ in rows)
    print(f"{'measure':<{w}} | value")
    print("-" * w + "-|------")
    for a, b in rows:
        print(f"{a:<{w}} | {b}")


if __name__ == "__main__":
    main()
