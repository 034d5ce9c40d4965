"""Motion transfer onto Anny's game-engine rigs (`metahmr_video.export.rigs`): accuracy and speed.

For each rig (mixamo, game_engine), poses of the fitted cmu_mb skeleton are carried over and the same
body (same phenotypes) is posed on the target rig. Measured against the source body posed by Anny with
cmu_mb: the joints both rigs share (same rest position) in mm, and the full-topology mesh vertices
(both rigs skin the same mesh) in mm; the time per frame of `retarget`. `--refine-steps K` adds the
experiment of K L-BFGS iterations on the same weighted marker error through the target's forward
kinematics, started from the closed-form solution (not used by the product; docs/experiments.md).

Poses: a results NPZ (`--results`, e.g. from `metahmr-video run examples/media/pedestrians.mp4`; every
track, its median phenotypes) or, by default, the project's motion prior (trainer/prior.py, walking,
running, reaching, sitting, free poses) with 0.05 rad Gaussian jitter on every bone and random phenotypes.

    python benchmarks/rigs.py [--results R.npz] [--samples 200] [--refine-steps 0 30] [--out benchmarks/results/rigs.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import roma
import torch

from metahmr_video.body.anny_body import FULL_TOPOLOGY, anny_rest_skeleton, load_anny
from metahmr_video.export import rigs
from metahmr_video.export.animation import _skeleton


def prior_poses(samples: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of (pose [T, 31, 3, 3] in the camera frame, phenotypes [6]): 10 groups of samples/10."""
    from metahmr_video.body import AnnyBody
    from metahmr_trainer.prior import MotionPrior, sample_global_orientation

    g = torch.Generator().manual_seed(seed)
    prior = MotionPrior(AnnyBody())
    groups = []
    for _ in range(10):
        n = max(1, samples // 10)
        rotvec = prior.sample(n, g) + 0.05 * torch.randn(n, 31, 3, generator=g)
        pose = roma.rotvec_to_rotmat(rotvec.double())
        upright = roma.rotvec_to_rotmat(torch.tensor([np.pi / 2, 0.0, 0.0], dtype=torch.float64))  # Anny Z-up -> camera -y
        pose[:, 0] = upright @ roma.rotvec_to_rotmat(sample_global_orientation(n, g).double())
        groups.append((pose.numpy(), torch.rand(6, generator=g).numpy() * 0.6 + 0.2))
    return groups


def results_poses(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    from metahmr_video.core.results import load_results

    res = load_results(path)
    return [(tr.pose.astype(np.float64), np.median(tr.shape.astype(np.float64), 0)) for tr in res.tracks.values()]


def refine(pose: np.ndarray, source: rigs.Skeleton, target: rigs.Skeleton, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The experiment: closed form, then L-BFGS on the weighted marker error (all frames at once)."""
    markers = rigs.glue_markers(torch.as_tensor(pose), source, target)
    with torch.no_grad():
        local, root = rigs.solve(markers, target)
    if steps == 0:
        return local.numpy(), root.numpy()
    movable = torch.as_tensor(target.deforming, dtype=torch.float64)[:, None]   # game_engine's Root stays upright
    delta = torch.zeros(local.shape[0], len(target.parents), 3, dtype=torch.float64, requires_grad=True)
    shift = torch.zeros(local.shape[0], 3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([delta, shift], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")
    mk, live = markers, torch.as_tensor(target.deforming, dtype=torch.float64)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loc = roma.rotvec_to_rotmat(delta * movable) @ local
        heads, tails = rigs.forward_kinematics(loc, root + shift, target)
        g = rigs.world_rotations(loc, target.parents)
        err = (mk.head_weight * ((heads - mk.head) ** 2).sum(-1) + mk.tail_weight * ((tails - mk.tail) ** 2).sum(-1)
               + mk.twist_weight * ((g - mk.twist_rotation) ** 2).sum((-1, -2)) / 2)
        loss = (err * live).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (roma.rotvec_to_rotmat(delta * movable) @ local).numpy(), (root + shift).numpy()


def _homogeneous(rot: np.ndarray) -> torch.Tensor:
    h = torch.zeros(rot.shape[:-2] + (4, 4), dtype=torch.float32)
    h[..., :3, :3] = torch.as_tensor(rot, dtype=torch.float32)
    h[..., 3, 3] = 1.0
    return h


def measure(groups, rig: str, steps: int) -> dict:
    """Shared-joint and mesh errors (mm) and seconds per frame for one rig and refinement setting."""
    src_model, tgt_model = load_anny("cmu_mb", FULL_TOPOLOGY), load_anny(rig, FULL_TOPOLOGY)
    joint_err, vert_err, seconds, frames = [], [], 0.0, 0
    for pose, shape in groups:
        source, target = _skeleton(anny_rest_skeleton(shape)), _skeleton(anny_rest_skeleton(shape, rig))
        start = time.perf_counter()
        local, root = refine(pose, source, target, steps)
        seconds += time.perf_counter() - start
        frames += len(pose)
        ph = torch.as_tensor(shape, dtype=torch.float32).expand(len(pose), -1)
        with torch.no_grad():
            s = src_model(pose_parameters=_homogeneous(pose), phenotype_kwargs=ph, return_bone_ends=True)
            t = tgt_model(pose_parameters=_homogeneous(local), phenotype_kwargs=ph, return_bone_ends=True)
        # Anny puts each rig's root head at the origin; ours sits at `root` from the source's.
        t_off = torch.as_tensor(root, dtype=torch.float32)[:, None]
        d = np.linalg.norm(target.heads[:, None] - source.heads[None], axis=-1)
        shared = d.min(1) < 1e-4
        joint_err.append((t["bone_heads"][:, shared] + t_off - s["bone_heads"][:, d.argmin(1)[shared]]).norm(dim=-1).ravel())
        vert_err.append((t["vertices"] + t_off - s["vertices"]).norm(dim=-1).ravel())
    j, v = torch.cat(joint_err).numpy() * 1000, torch.cat(vert_err).numpy() * 1000
    return dict(rig=rig, refine_steps=steps, frames=frames, shared_joints=int(shared.sum()),
                joint_mean_mm=float(j.mean()), joint_p95_mm=float(np.percentile(j, 95)), joint_max_mm=float(j.max()),
                vertex_mean_mm=float(v.mean()), vertex_p95_mm=float(np.percentile(v, 95)), vertex_max_mm=float(v.max()),
                ms_per_frame=1000 * seconds / frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, help="a results NPZ (default: motion-prior poses)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--refine-steps", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/rigs.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    groups = results_poses(args.results) if args.results else prior_poses(args.samples)
    rows = [measure(groups, rig, k) for rig in rigs.RIGS for k in args.refine_steps]
    print(f"poses: {args.results or f'motion prior, {args.samples} samples'}")
    print("| rig | refine steps | frames | shared joints | joints mean / p95 / max mm | mesh mean / p95 / max mm | ms per frame |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['rig']} | {r['refine_steps']} | {r['frames']} | {r['shared_joints']} | "
              f"{r['joint_mean_mm']:.2f} / {r['joint_p95_mm']:.2f} / {r['joint_max_mm']:.2f} | "
              f"{r['vertex_mean_mm']:.1f} / {r['vertex_p95_mm']:.1f} / {r['vertex_max_mm']:.1f} | {r['ms_per_frame']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
