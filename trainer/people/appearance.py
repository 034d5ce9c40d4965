"""How well appearance tells people apart over time (the question behind re-identifying someone who
leaves the frame for up to 10 s, issue 24; E52).

`python -m metahmr_trainer.people.appearance VIDEO RESULTS.npz`: for every 5th frame, each reported
person's colour histogram (the tracker's `appearance`: hue-saturation over the torso and upper legs;
and a two-part one: shoulders-to-hips and hips-to-knees regions, compared part by part), then the
Bhattacharyya coefficient of every pair of observations at least 30 frames apart, split into the
same track and different tracks. Prints, per descriptor, the coefficient that 1 % and 0.1 % of the
different-people pairs exceed and the share of same-person pairs above it (what a re-identification
threshold at that false-match rate would keep). The tracks are the run's own, not labels."""
from __future__ import annotations

import argparse

import numpy as np

_SHOULDERS, _HIPS, _KNEES = [11, 12], [23, 24], [25, 26]


def _region(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The tracker's hue-saturation histogram of the box around points [K,2] (pixels), widened by 15 %."""
    from metahmr_video.track.tracker import hs_histogram

    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    pad = 0.15 * max(x1 - x0, 1.0)
    return hs_histogram(image, x0 - pad, y0, x1 + pad, y1)


def main(argv: list[str] | None = None) -> None:
    from metahmr_video.core.records import Detection
    from metahmr_video.core.results import load_results
    from metahmr_video.sources import open_source
    from metahmr_video.track.tracker import appearance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("results")
    args = ap.parse_args(argv)
    res = load_results(args.results)
    feats: dict[str, dict[tuple[int, int], list[np.ndarray]]] = {"tracker": {}, "two-part": {}}
    for frame in open_source(args.video):
        if frame.index % 5:
            continue
        for tid, t in res.tracks.items():
            rows = np.flatnonzero(t.frame_ids == frame.index)
            if not len(rows):
                continue
            kp, conf = t.keypoints2d[rows[0]], t.keypoint_conf[rows[0]]
            det = Detection(box=t.boxes[rows[0]], score=1.0, keypoints2d=kp, keypoint_conf=conf)
            whole = appearance(frame.image, det)
            if whole is not None:
                feats["tracker"][(tid, frame.index)] = [whole]
            if (conf[_SHOULDERS + _HIPS + _KNEES] >= 0.3).all():
                parts = [_region(frame.image, kp[_SHOULDERS + _HIPS]), _region(frame.image, kp[_HIPS + _KNEES])]
                if all(p is not None for p in parts):
                    feats["two-part"][(tid, frame.index)] = parts
    for name, f in feats.items():
        keys = list(f)
        same, diff = [], []
        for i, (ta, fa) in enumerate(keys):
            for tb, fb in keys[i + 1:]:
                if abs(fa - fb) >= 30:
                    bc = min(float(np.sum(np.sqrt(a * b))) for a, b in zip(f[(ta, fa)], f[(tb, fb)]))
                    (same if ta == tb else diff).append(bc)
        same, diff = np.array(same), np.array(diff)
        if not len(same) or not len(diff):
            print(f"{name}: not enough pairs")
            continue
        for rate in (1.0, 0.1):
            th = float(np.percentile(diff, 100 - rate))
            print(f"{name}: {len(same)} same-person / {len(diff)} different-people pairs; {rate} % of different "
                  f"pairs above {th:.3f}, which keeps {(same > th).mean():.1%} of same-person pairs")


if __name__ == "__main__":
    main()
