"""Temporal smoothing, measured, for the smoother as it was (`BEFORE`: plain One-Euro filters, no
physical limits) and as it is (the default `SmootherConfig`):

(1) synthetic sequences with known motion and monocular-like noise (direction ~3 mrad, depth ~4 %,
rotations 3 deg): error, acceleration error, jitter, and lag against the truth — the mean signed
offset along the motion of the root projected at focal 1000 px, and the best-matching shift;
(2) the real example clip through the whole pipeline (the adapted bodies recorded once, then
smoothed by each setting and re-posed from the smoothed parameters, as the pipeline stores them): jitter (mean |second difference| per frame) of root-relative joints (mm),
translation (mm), rotations (deg) and the projected keypoints (px); lag, the mean signed offset of the
smoothed keypoints from the adapted ones along each person's image motion (px; negative = behind);
and the largest root step between consecutive frames of a track (m).

    python benchmarks/smoothing.py [--frames 100] [--out benchmarks/results/smoothing.json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np
import torch

from metahmr_video.adapt import BodyPoser
from metahmr_video.core.camera import default_focal
from metahmr_video.app.config import Config
from metahmr_video.core.records import PersonBody
from metahmr_video.core.rotations import axis_angle_to_rotmat, geodesic_angle
from metahmr_video.app.runner import Runner
from metahmr_video.smooth import SmootherConfig, TrackSmoother
from metahmr_video.smooth.track_smoother import from_ray_depth, to_ray_depth
from metahmr_video.sources import VideoSource

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"

# The smoother before issue 14: One-Euro filters without lag correction or physical limits.
BEFORE = SmootherConfig(rot_beta=4.0, ray_min_cutoff=2.0, depth_beta=2.0, pos_beta=5.0, lead=0.0,
                        partial_ratio=0.0, full_ratio=0.0, depth_gate=math.inf, max_speed=math.inf)
SETTINGS = {"before": BEFORE, "now": SmootherConfig()}


class _Recording(TrackSmoother):
    """The pipeline's smoother, keeping every record that went in (`raw`)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.raw: list[PersonBody] = []

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        self.raw += people
        return super().__call__(people)


def _rot_jitter(r: np.ndarray) -> float:
    step = np.swapaxes(r[1:], -1, -2) @ r[:-1]
    ang = geodesic_angle(torch.tensor(step), torch.eye(3).expand_as(torch.tensor(step))).numpy()
    return float(np.degrees(np.abs(np.diff(ang, axis=0)).mean()))


def synthetic(config: SmootherConfig, fps: float = 30.0, frames: int = 300, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    rotvec = np.stack([0.6 * np.sin(2 * np.pi * 0.5 * t), 0.4 * np.cos(2 * np.pi * 0.3 * t), 0.2 * t], -1)
    rot = axis_angle_to_rotmat(torch.tensor(rotvec)[:, None].repeat(1, 5, 1)).float().numpy()
    transl = np.stack([0.5 * np.sin(2 * np.pi * 0.4 * t), 0.1 * t, 4.0 + 0.2 * np.cos(t)], -1)
    rd = np.stack([to_ray_depth(x) for x in transl])
    rd += np.concatenate([rng.normal(scale=0.003, size=(frames, 2)), rng.normal(scale=0.04, size=(frames, 1))], 1)
    raw_t = np.stack([from_ray_depth(x) for x in rd])
    raw_r = axis_angle_to_rotmat(torch.tensor(rng.normal(scale=np.deg2rad(3), size=(frames, 5, 3)))).float().numpy() @ rot
    sm = TrackSmoother(config)
    z = np.zeros((33, 3), np.float32)
    out = [sm([PersonBody(1, i, float(t[i]), raw_r[i], np.full(6, 0.5, np.float32), raw_t[i], raw_t[i][None],
                          z, z[:, :2], np.ones(33, np.float32), np.zeros(4, np.float32), 0.0)])[0] for i in range(frames)]
    sm_t, sm_r = np.stack([o.transl for o in out]), np.stack([o.pose for o in out])
    s = slice(15, None)

    def px(x):
        return 1000.0 * x[:, :2] / x[:, 2:]

    motion = np.gradient(px(transl), axis=0)
    direction = motion / np.linalg.norm(motion, axis=-1, keepdims=True)
    shift = int(np.argmin([np.linalg.norm(sm_t[20 + k:] - transl[20:frames - k], axis=-1).mean() for k in range(8)]))

    def rerr(r):
        return float(np.degrees(geodesic_angle(torch.tensor(r[s]), torch.tensor(rot[s])).mean().item()))

    def accel(x):
        return 1000 * np.linalg.norm(np.diff(x, n=2, axis=0) - np.diff(transl, n=2, axis=0), axis=-1).mean()

    return dict(transl_err_mm=[1000 * np.linalg.norm(x - transl, axis=-1)[s].mean() for x in (raw_t, sm_t)],
                transl_accel_err_mm=[accel(x) for x in (raw_t, sm_t)],
                rot_err_deg=[rerr(raw_r), rerr(sm_r)], rot_jitter_deg=[_rot_jitter(raw_r), _rot_jitter(sm_r)],
                lag_px=float(((px(sm_t) - px(transl)) * direction).sum(-1)[s].mean()), lag_shift_frames=shift)


def record_clip(frames: int) -> tuple[list[PersonBody], float, torch.nn.Module]:
    """The adapted (raw) bodies of the clip's first `frames` frames, the focal length (pixels) and
    the body model."""
    src = VideoSource(CLIP, max_frames=frames)
    cfg = Config()
    runner = Runner(cfg)
    focal = default_focal(src.width, src.height)
    pipe = runner.pipeline(focal)
    rec = pipe.smoother = _Recording(cfg.smoothing)
    pipe.run(iter(src), [])
    return rec.raw, focal, runner.body


def replay(raw: list[PersonBody], config: SmootherConfig, body) -> list[PersonBody]:
    """The recorded bodies through a fresh smoother, frame by frame, then re-posed from the smoothed
    parameters as the pipeline stores them (`BodyPoser`)."""
    sm, poser = TrackSmoother(config), BodyPoser(body)
    out = []
    for _, people in itertools.groupby(sorted(raw, key=lambda p: p.frame_index), key=lambda p: p.frame_index):
        out += poser(sm(list(people)))
    return out


def clip_metrics(raw: list[PersonBody], smoothed: list[PersonBody], focal: float, size=(768, 576)) -> dict:
    centre = np.array(size, float) / 2

    def px(p: PersonBody) -> np.ndarray:
        return focal * p.keypoints3d[:, :2] / p.keypoints3d[:, 2:] + centre

    def tracks(people):
        out: dict[int, dict[int, PersonBody]] = {}
        for p in people:
            out.setdefault(p.track_id, {})[p.frame_index] = p
        return out

    R, S = tracks(raw), tracks(smoothed)
    offsets, steps = [], []
    jitter = {k: {"raw": [], "smoothed": []} for k in ("joints_mm", "transl_mm", "keypoints_px", "rot_deg")}
    for tid, seq in S.items():
        r = R[tid]
        frames = sorted(seq)
        steps += [np.linalg.norm(seq[b].transl - seq[a].transl) / (b - a) for a, b in zip(frames, frames[1:])]
        for i in frames:
            if all(i + k in r for k in (-3, 3)):  # direction of motion over 6 frames (noise barely biases it)
                v = px(r[i + 3]).mean(0) - px(r[i - 3]).mean(0)
                if np.linalg.norm(v) / 6 > 0.5:
                    offsets.append(((px(seq[i]) - px(r[i])) @ (v / np.linalg.norm(v))).mean())
            if i - 1 in seq and i + 1 in seq:
                for label, q in (("raw", r), ("smoothed", seq)):
                    a, b, c = q[i - 1], q[i], q[i + 1]
                    jitter["joints_mm"][label].append(1000 * np.linalg.norm(
                        (c.joints - c.transl) - 2 * (b.joints - b.transl) + (a.joints - a.transl), axis=-1).mean())
                    jitter["transl_mm"][label].append(1000 * np.linalg.norm(c.transl - 2 * b.transl + a.transl))
                    jitter["keypoints_px"][label].append(np.linalg.norm(px(c) - 2 * px(b) + px(a), axis=-1).mean())
                    jitter["rot_deg"][label].append(_rot_jitter(np.stack([a.pose, b.pose, c.pose])))
    out = {k: [float(np.mean(v["raw"])), float(np.mean(v["smoothed"]))] for k, v in jitter.items()}
    out.update(lag_px=float(np.mean(offsets)), moving_samples=len(offsets), max_root_step_m=float(np.max(steps)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smoothing.json"))
    args = parser.parse_args()
    raw, focal, body = record_clip(args.frames)
    result = {}
    for name, config in SETTINGS.items():
        result[name] = dict(synthetic=synthetic(config), clip=clip_metrics(raw, replay(raw, config, body), focal))
    print("Synthetic known motion (30 fps), raw -> smoothed, per setting:")
    for key in result["now"]["synthetic"]:
        print(f"  {key}: " + "; ".join(f"{name} {result[name]['synthetic'][key]}" for name in SETTINGS))
    print(f"Real clip ({args.frames} frames at 10 fps): | quantity | raw | {' | '.join(SETTINGS)} |")
    for key, value in result["now"]["clip"].items():
        if isinstance(value, list):
            print(f"| {key} jitter | {value[0]:.2f} | " + " | ".join(f"{result[n]['clip'][key][1]:.2f}" for n in SETTINGS) + " |")
        else:
            print(f"| {key} | | " + " | ".join(f"{result[n]['clip'][key]:.2f}" for n in SETTINGS) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
