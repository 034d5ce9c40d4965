"""Experiment: the pipeline's temporal prior (AdaptConfig.temporal_prior) on real motion sequences.

Contiguous stretches of the bvhtools clips (real motion capture, fetched at run time, never trained
on) are retargeted to Anny, seen by one fixed camera per stretch (person in place, 3-7 m away),
with independent detector-like noise per frame (the training noise model). Each frame is fitted
in order, like the pipeline: TTO from the meta-parameters (or, with carry c > 0, from c x the
previous frame's adaptation, `Fitter.next_carry`, as `AdaptConfig.carry` does), and with weight w the
previous frame's adapted body as a prior on pose and shape. Reported per (w, c): MPJPE / PA-MPJPE
(mm, 15 standard joints) and the acceleration error of root-relative joints (mm/frame^2), before and
after the pipeline's TrackSmoother; and PA-MPJPE of the smoothed landmarks (mapped to the 15 joints
by the real-pixel split's rule, against the true landmarks) before and after the pipeline's
`LandmarkDefinitions`, whose world landmarks here are the body's own plus noise: a control (there
is no definition to learn, so it should change little).

    python -m metahmr_trainer.eval_temporal [--weights 0 0.03 0.1 0.3] [--carry 0 1] [--frames 120] [--stretches 6]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.records import PersonBody
from metahmr_video.body import AnnyBody
from metahmr_trainer.evaluate import fetch_bvh_clips, joint_errors
from metahmr_video.adapt import Fitter
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_video.smooth import LandmarkDefinitions, TrackSmoother
from metahmr_trainer.bvh import read_bvh, retarget
from metahmr_trainer.data import NoiseConfig, evidence_from_body
from metahmr_trainer.realpix.joints import standard_from_landmarks


def stretches(body: AnnyBody, cache: Path, frames: int, count: int, seed: int) -> list[tuple[torch.Tensor, float]]:
    """`count` contiguous stretches of `frames` frames: (Anny poses [F,31,3,3], fps)."""
    rng = np.random.default_rng(seed)
    clips = [read_bvh(p) for p in fetch_bvh_clips(cache)]
    out = []
    for k in range(count):
        motion = clips[k % len(clips)]
        start = int(rng.integers(0, len(motion.positions) - frames))
        pose, _ = retarget(body, motion, np.arange(start, start + frames))
        out.append((pose, 1.0 / motion.frame_time))
    return out


def run(weights: list[float], frames: int, count: int, steps: int | None, cache: Path, seed: int = 31,
        carries: tuple[float, ...] = (0.0,), checkpoint: str | None = None) -> dict:
    torch.set_num_threads(1)
    fitter = Fitter.load(checkpoint)
    body = fitter.body
    seqs = stretches(body, cache, frames, count, seed)
    g = torch.Generator().manual_seed(seed)
    cases = []
    for pose, fps in seqs:
        pose = pose.clone()
        yaw = float(torch.rand(1, generator=g)) * 2 * np.pi - np.pi
        elev = 0.1 + 0.3 * float(torch.rand(1, generator=g))
        rz = axis_angle_to_rotmat(torch.tensor([0.0, 0.0, yaw]))
        rx = axis_angle_to_rotmat(torch.tensor([-elev, 0.0, 0.0]))
        pose[:, 0] = rx @ body.cam_from_body @ rz @ pose[:, 0]  # Anny: rz turns about its up axis
        size = torch.tensor([1280.0, 720.0]).expand(len(pose), 2)
        focal = torch.full((len(pose),), float(np.hypot(1280, 720)))
        dist = 3.0 + 4.0 * float(torch.rand(1, generator=g))
        transl = torch.tensor([0.3, 0.1, dist]).expand(len(pose), 3)
        with torch.no_grad():
            gt = body(pose, transl=transl, return_vertices=False)
        ev, _ = evidence_from_body(g, gt.joints, gt.keypoints, focal, size, NoiseConfig())
        cases.append((ev, gt.joints[:, body.standard_joint_indices], fps, gt.keypoints))
    results = {}
    for w, c in [(w, c) for w in weights for c in carries]:
        mp_all, pa_all, acc_raw, acc_sm, mp_sm_all, pa_lm, pa_def = [], [], [], [], [], [], []
        for ev, gt_std, fps, gt_kp in cases:
            prev, carry = None, None
            preds, people, defined = [], [], []
            smoother, definitions = TrackSmoother(), LandmarkDefinitions()
            for t in range(len(gt_std)):
                prior = None
                if w > 0 and prev is not None:
                    prior = (prev.pose, prev.shape, torch.ones(1, dtype=torch.bool))
                res = fitter.fit_evidence(ev.index(slice(t, t + 1)), steps=steps, prior=prior, prior_weight=w,
                                          carry=carry, return_carry=c > 0)
                prev = res if not bool(res.fallback[0]) else prev
                carry = fitter.next_carry(res.carry, c) if c > 0 else None
                preds.append(res.joints[0])
                p = PersonBody(1, t, t / fps, res.pose[0].numpy(), res.shape[0].numpy(), res.transl[0].numpy(),
                               res.joints[0].numpy(), res.keypoints3d[0].numpy(), np.zeros((33, 2), np.float32),
                               ev.conf[t].numpy(), np.zeros(4, np.float32), 0.0,
                               world_landmarks=ev.world[t].numpy() if bool(ev.has_world[t]) else None)
                people.append(smoother([p])[0])
                defined.append(definitions([people[-1]])[0])
            pred = torch.stack(preds)[:, body.standard_joint_indices]
            sm = torch.from_numpy(np.stack([p.joints for p in people]))[:, body.standard_joint_indices]
            mp, pa = joint_errors(pred, gt_std)
            mp_sm, _ = joint_errors(sm, gt_std)
            mp_all.append(mp), pa_all.append(pa), mp_sm_all.append(mp_sm)
            truth = torch.as_tensor(standard_from_landmarks(gt_kp.numpy()), dtype=torch.float32)
            for out, acc in ((people, pa_lm), (defined, pa_def)):
                lm = torch.as_tensor(standard_from_landmarks(np.stack([p.keypoints3d for p in out])), dtype=torch.float32)
                acc.append(joint_errors(lm, truth)[1])

            def accel_err(x):
                rel = x - x[:, :1]
                g_rel = gt_std - gt_std[:, :1]
                a = rel[2:] - 2 * rel[1:-1] + rel[:-2]
                b = g_rel[2:] - 2 * g_rel[1:-1] + g_rel[:-2]
                return float((a - b).norm(dim=-1).mean() * 1000)
            acc_raw.append(accel_err(pred)), acc_sm.append(accel_err(sm))
        key = w if carries == (0.0,) else f"w={w}, carry={c}"
        r = results[key] = dict(mpjpe=float(torch.cat(mp_all).mean()), pa_mpjpe=float(torch.cat(pa_all).mean()),
                                mpjpe_smoothed=float(torch.cat(mp_sm_all).mean()),
                                accel_err=float(np.mean(acc_raw)), accel_err_smoothed=float(np.mean(acc_sm)),
                                landmarks_pa_smoothed=float(torch.cat(pa_lm).mean()),
                                landmarks_pa_defined=float(torch.cat(pa_def).mean()))
        print(f"w={w}, carry={c}: MPJPE {r['mpjpe']:.1f} / PA {r['pa_mpjpe']:.1f} mm, accel error "
              f"{r['accel_err']:.1f} -> smoothed {r['accel_err_smoothed']:.1f} mm/frame^2 "
              f"(smoothed MPJPE {r['mpjpe_smoothed']:.1f}); smoothed landmarks PA {r['landmarks_pa_smoothed']:.1f} -> "
              f"with landmark definitions {r['landmarks_pa_defined']:.1f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.03, 0.1, 0.3])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--stretches", type=int, default=6)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--checkpoint", default=None, help="meta checkpoint (default: the shipped one)")
    parser.add_argument("--carry", type=float, nargs="+", default=[0.0],
                        help="fractions of a frame's adaptation its next frame starts from (AdaptConfig.carry)")
    parser.add_argument("--cache-dir", default="~/.cache/metahmr-video/bvh")
    parser.add_argument("--out", type=Path, default=Path("docs/eval/temporal_prior.json"))
    args = parser.parse_args()
    res = run(args.weights, args.frames, args.stretches, args.steps, Path(args.cache_dir).expanduser(),
              carries=tuple(args.carry), checkpoint=args.checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
