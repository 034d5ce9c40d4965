"""Temporal smoothing, measured: (1) synthetic sequences with known motion and monocular-like noise
(direction ~3 mrad, depth ~4 %, rotations 3 deg): error, acceleration error, jitter and lag, raw vs
smoothed; (2) the real example clip through the whole pipeline: jitter (mean |second difference|
per frame) of joints (root-relative, mm), translation (mm) and rotations (deg), raw vs smoothed.

    python benchmarks/smoothing.py [--frames 100] [--out benchmarks/results/smoothing.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from metahmr_video.config import Config
from metahmr_video.rotations import axis_angle_to_rotmat, geodesic_angle
from metahmr_video.runner import Runner
from metahmr_video.records import PersonBody
from metahmr_video.smooth import TrackSmoother
from metahmr_video.smooth.track_smoother import from_ray_depth, to_ray_depth
from metahmr_video.sources import VideoSource

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"


class _Recording(TrackSmoother):
    """The pipeline's smoother, keeping every record that went in (`raw`) and came out (`smoothed`)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.raw: list[PersonBody] = []
        self.smoothed: list[PersonBody] = []

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        out = super().__call__(people)
        self.raw += people
        self.smoothed += out
        return out


def _second_diff(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)


def _rot_jitter(r: np.ndarray) -> float:
    step = np.swapaxes(r[1:], -1, -2) @ r[:-1]
    ang = geodesic_angle(torch.tensor(step), torch.eye(3).expand_as(torch.tensor(step))).numpy()
    return float(np.degrees(np.abs(np.diff(ang, axis=0)).mean()))


def synthetic(fps: float = 30.0, frames: int = 300, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    rotvec = np.stack([0.6 * np.sin(2 * np.pi * 0.5 * t), 0.4 * np.cos(2 * np.pi * 0.3 * t), 0.2 * t], -1)
    rot = axis_angle_to_rotmat(torch.tensor(rotvec)[:, None].repeat(1, 5, 1)).float().numpy()
    transl = np.stack([0.5 * np.sin(2 * np.pi * 0.4 * t), 0.1 * t, 4.0 + 0.2 * np.cos(t)], -1)
    rd = np.stack([to_ray_depth(x) for x in transl])
    rd += np.concatenate([rng.normal(scale=0.003, size=(frames, 2)), rng.normal(scale=0.04, size=(frames, 1))], 1)
    raw_t = np.stack([from_ray_depth(x) for x in rd])
    raw_r = axis_angle_to_rotmat(torch.tensor(rng.normal(scale=np.deg2rad(3), size=(frames, 5, 3)))).float().numpy() @ rot
    sm = TrackSmoother()
    z = np.zeros((33, 3), np.float32)
    out = [sm([PersonBody(1, i, float(t[i]), raw_r[i], np.full(6, 0.5, np.float32), raw_t[i], raw_t[i][None],
                          z, z[:, :2], z[:, 0], np.zeros(4, np.float32), 0.0)])[0] for i in range(frames)]
    sm_t, sm_r = np.stack([o.transl for o in out]), np.stack([o.pose for o in out])
    s = slice(15, None)
    lag = int(np.argmin([np.linalg.norm(sm_t[20 + k:] - transl[20:frames - k], axis=-1).mean() for k in range(8)]))

    def rerr(r):
        return float(np.degrees(geodesic_angle(torch.tensor(r[s]), torch.tensor(rot[s])).mean().item()))

    return dict(transl_err_mm=[1000 * np.linalg.norm(x - transl, axis=-1)[s].mean() for x in (raw_t, sm_t)],
                transl_accel_err_mm=[1000 * np.linalg.norm((x[2:] - 2 * x[1:-1] + x[:-2]) - (transl[2:] - 2 * transl[1:-1] + transl[:-2]), axis=-1).mean() for x in (raw_t, sm_t)],
                rot_err_deg=[rerr(raw_r), rerr(sm_r)], rot_jitter_deg=[_rot_jitter(raw_r), _rot_jitter(sm_r)],
                transl_lag_frames=lag)


def real(frames: int, temporal_prior: float = 0.0) -> dict:
    src = VideoSource(CLIP, max_frames=frames)
    cfg = Config()
    cfg.adapt.temporal_prior = temporal_prior
    runner = Runner(cfg)
    pipe = runner.pipeline(float(np.hypot(src.width, src.height)))
    rec = pipe.smoother = _Recording(cfg.smoothing)
    pipe.run(iter(src), [])
    res = {}
    for label, people in (("raw", rec.raw), ("smoothed", rec.smoothed)):
        by = {}
        for p in people:
            by.setdefault(p.track_id, []).append(p)
        j, tr, rt = [], [], []
        for seq in by.values():
            seq.sort(key=lambda p: p.frame_index)
            runs = np.split(np.arange(len(seq)), np.nonzero(np.diff([p.frame_index for p in seq]) != 1)[0] + 1)
            for r in runs:
                if len(r) < 3:
                    continue
                ps = [seq[i] for i in r]
                j.append(_second_diff(np.stack([p.joints - p.transl for p in ps])).mean())
                tr.append(_second_diff(np.stack([p.transl for p in ps])).mean())
                rt.append(_rot_jitter(np.stack([p.pose for p in ps])))
        res[label] = dict(joint_jitter_mm=1000 * float(np.mean(j)), transl_jitter_mm=1000 * float(np.mean(tr)),
                          rot_jitter_deg=float(np.mean(rt)),
                          reproj_error_px=float(np.mean([p.reproj_error for p in rec.raw])))
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--temporal-prior", type=float, default=Config().adapt.temporal_prior,
                        help="AdaptConfig.temporal_prior (default: the pipeline's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smoothing.json"))
    args = parser.parse_args()
    syn, rl = synthetic(), real(args.frames, args.temporal_prior)
    print("Synthetic known motion (raw -> smoothed):")
    for k, v in syn.items():
        print(f"  {k}: {v if isinstance(v, int) else ' -> '.join(f'{x:.2f}' for x in v)}")
    print(f"Real clip ({args.frames} frames, temporal prior {args.temporal_prior}, "
          "jitter = mean |second difference| per frame; reprojection error of the adapted bodies):")
    print("| quantity | raw | smoothed | ratio |\n|---|---|---|---|")
    for k in rl["raw"]:
        print(f"| {k} | {rl['raw'][k]:.1f} | {rl['smoothed'][k]:.1f} | {rl['smoothed'][k] / rl['raw'][k]:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(synthetic=syn, real=rl), indent=2, default=float))


if __name__ == "__main__":
    main()
