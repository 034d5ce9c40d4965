"""`metahmr-video evaluate --splits people`: the product's `run` pipeline on labelled real clips,
scored by `metahmr_trainer.people.metrics` (recall, precision, ghosts, duplicates, IDF1, id switches)
with its frames per second. Labels: `labels.json` beside this module (boxes and ids of every visible
person on every 10th frame; source and licence in the file). Footage: the `pose2sim==0.10.49` wheel's
demo videos (BSD-3-Clause), fetched with pip into a cache at evaluation time (never committed)."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from metahmr_trainer.people.metrics import Boxes, PeopleScore, score
from metahmr_trainer.people.reentry import REENTRY, ReentryClip
from metahmr_trainer.people.reentry import build as build_reentry

LABELS = Path(__file__).with_name("labels.json")


def load_labels(path: Path = LABELS) -> dict[str, Boxes]:
    """Clip name (a path inside the pose2sim wheel) -> frame -> [(person id, box)]."""
    data = json.loads(Path(path).read_text())
    return {clip: {int(f): [(p["id"], np.asarray(p["box"], float)) for p in people]
                   for f, people in c["frames"].items()} for clip, c in data["clips"].items()}


def run_boxes(runner, video: Path, out_dir: Path) -> tuple[Boxes, float]:
    """The boxes of every track `runner` reports on `video` (frame -> [(track id, box)]) and the
    run's frames per second."""
    from metahmr_video.app.runner import run_input
    from metahmr_video.core.results import load_results

    summary = run_input(runner, video, out_dir, show_progress=False)
    res = load_results(out_dir / f"{video.stem}.npz")
    boxes: Boxes = {}
    for tid, t in res.tracks.items():
        for f, b in zip(t.frame_ids, t.boxes):
            boxes.setdefault(int(f), []).append((tid, b))
    return boxes, summary.fps


def format_row(name: str, s: PeopleScore, fps: float | None = None) -> str:
    return (f"{name:32s} {s.found:4d}/{s.labelled:<4d} {s.recall:6.3f} {s.recall_tall:6.3f} {s.precision:6.3f} "
            f"{len(s.ghost_tracks):6d} {s.duplicates:5d} {s.idf1:6.3f} {s.id_switches:4d} {s.tracks:6d}"
            + (f" {fps:6.1f}" if fps is not None else ""))


HEADER = (f"{'clip':32s} {'found':>9s} {'recall':>6s} {'>=60px':>6s} {'prec.':>6s} {'ghosts':>6s} {'dupl.':>5s} "
          f"{'IDF1':>6s} {'IDsw':>4s} {'tracks':>6s} {'fps':>6s}")


def evaluate_people(runner, cache_dir: Path, clips: list[str] | None = None) -> dict:
    """Score `runner` on the labelled clips (all, or those whose name contains one of `clips`);
    prints a row per clip and the total; returns the numbers as plain data."""
    from metahmr_trainer.realpix.data import extract

    labels = load_labels()
    names = [c for c in labels if not clips or any(k in c for k in clips)]
    videos = extract(names, cache_dir)
    total, rows = PeopleScore(), {}
    print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        for name, video in zip(names, videos):
            out = Path(tmp) / name.replace("/", "_")
            out.mkdir()
            boxes, fps = run_boxes(runner, video, out)
            s = score(labels[name], boxes)
            s.ghost_tracks = [f"{name}:{t}" for t in s.ghost_tracks]
            print(format_row(name.replace("Pose2Sim/", "").replace("/videos", ""), s, fps), flush=True)
            total = total + s
            rows[name] = dict(score_dict(s), fps=fps)
    print(format_row("all", total))
    out = dict(clips=rows, total=score_dict(total))
    chosen = [c for c in REENTRY if not clips or any(k in c.name for k in clips)]
    if chosen:
        print("re-entry (a clip played back and forth for 10 s, one person painted out for 7 s of it):")
        out["reentry"] = {c.name: evaluate_reentry(runner, cache_dir, c, labels[c.source]) for c in chosen}
    return out


def evaluate_reentry(runner, cache_dir: Path, clip: ReentryClip, source_labels: Boxes) -> dict:
    """One derived re-entry clip (`metahmr_trainer.people.reentry`): a row apart from the total."""
    from metahmr_trainer.realpix.data import extract

    video = extract([clip.source], cache_dir)[0]
    labels, optional = build_reentry(clip, video, source_labels, clip.file(video))
    with tempfile.TemporaryDirectory() as tmp:
        boxes, fps = run_boxes(runner, clip.file(video), Path(tmp))
    s = score(labels, boxes, optional=optional)
    print(format_row(f"{clip.source.split('/')[1]}/{Path(clip.source).name} {clip.person} hidden", s, fps), flush=True)
    return dict(score_dict(s), fps=fps)


def score_dict(s: PeopleScore) -> dict:
    return dict(labelled=s.labelled, found=s.found, recall=s.recall, recall_60px=s.recall_tall,
                precision=s.precision, ghost_tracks=s.ghost_tracks, duplicates=s.duplicates, idf1=s.idf1,
                id_switches=s.id_switches, tracks=s.tracks)


def evaluate_command(args: argparse.Namespace) -> dict:
    """The `evaluate --splits people` entry: the default pipeline (or --config's), results to
    OUT_DIR/people.json."""
    from metahmr_video.app.config import load_config
    from metahmr_video.app.runner import Runner

    runner = Runner(load_config(args.people_config))
    res = evaluate_people(runner, Path(args.realpix_cache).expanduser(),
                          args.people_clips.split(",") if args.people_clips else None)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.out_dir) / "people.json").write_text(json.dumps(res, indent=1))
    print(f"\nwrote {Path(args.out_dir) / 'people.json'}")
    return res


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people-config", type=Path, help="people: the pipeline's YAML/JSON config (default: defaults)")
    parser.add_argument("--people-clips", help="people: comma-separated parts of clip names to run (default: all)")
