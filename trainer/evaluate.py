"""Evaluation: MPJPE / PA-MPJPE (mm) against TTO steps 0..K for no TTO, EFT, single-network meta
and ours (meta + dual), on real motion capture and on a generated held-out split.

Real motion: the three BVH clips inside the PyPI source distribution of `bvhtools==1.6.0`
(~14,000 frames of real motion capture; origin/licence of the clips not stated, so they are only
fetched here, at evaluation time, into a cache directory, never committed or trained on). Frames
are subsampled evenly, retargeted to the body model by IK on the 15 standard joints (metahmr_trainer.bvh), given a
random heading and a random camera, and observed with the same detector-like noise as in training
(metahmr_trainer.data). Errors are measured on the 15 standard joints (pelvis, hips, knees, ankles, neck,
head, shoulders, elbows, wrists), which both skeletons share. MPJPE: after aligning pelvises;
PA-MPJPE: after a similarity Procrustes alignment.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.errors import MetaHMRError
from metahmr_trainer.metrics import pa_errors

log = logging.getLogger("metahmr_trainer.evaluate")
BVH_SDIST = "bvhtools==1.6.0"
CLIPS = ("test.bvh", "test2.bvh", "test3.bvh")


def fetch_bvh_clips(cache_dir: Path) -> list[Path]:
    """Download (once) the bvhtools sdist with pip and extract its test clips into cache_dir."""
    cache_dir = Path(cache_dir)
    clip_dir = cache_dir / "bvhtools-1.6.0" / "testBvhFiles"
    if not all((clip_dir / c).is_file() for c in CLIPS):
        cache_dir.mkdir(parents=True, exist_ok=True)
        tars = list(cache_dir.glob("bvhtools-1.6.0.tar.gz"))
        if not tars:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", BVH_SDIST,
                   "-d", str(cache_dir), "-q"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            tars = list(cache_dir.glob("bvhtools-1.6.0.tar.gz"))
            if r.returncode != 0 or not tars:
                raise MetaHMRError(f"could not download {BVH_SDIST} with pip: {r.stderr.strip()[-300:]}")
        with tarfile.open(tars[0]) as tf:
            members = [m for m in tf.getmembers() if m.name.endswith(".bvh") and "testBvhFiles" in m.name]
            tf.extractall(cache_dir, members=members)
    return [clip_dir / c for c in CLIPS]


def real_motion_poses(body, cache_dir: Path, frames_per_clip: int) -> tuple[torch.Tensor, dict]:
    """Poses [N,J,3,3] of `body` (its own frame) retargeted from the bvhtools clips; cached as .pt
    per body model."""
    from metahmr_trainer.bvh import read_bvh, retarget

    cache_dir = Path(cache_dir)
    key = cache_dir / f"{body.model_id}_ik_{frames_per_clip}.pt"
    if key.is_file():
        blob = torch.load(key, weights_only=True)
        return blob["pose"], blob["info"]
    poses, info = [], {}
    for path in fetch_bvh_clips(cache_dir):
        motion = read_bvh(path)
        total = len(motion.positions)
        idx = np.linspace(0, total - 1, frames_per_clip).round().astype(int)
        pose, res = retarget(body, motion, idx)
        poses.append(pose)
        info[path.name] = {"frames_total": total, "frames_used": len(idx), "ik_residual_mm": round(res * 1000, 1)}
        log.info("IK %s: %d frames, residual %.1f mm", path.name, len(idx), res * 1000)
    pose = torch.cat(poses)
    torch.save({"pose": pose, "info": info}, key)
    return pose, info


PRIOR_CHECK_JOINTS = ("left_hip", "left_knee", "left_shoulder", "left_elbow", "neck")


def prior_check(body, n: int, cache_dir: Path, seed: int = 5) -> dict:
    """Joint-angle statistics (rotation angle of the local rotation of the bone starting at each
    standard joint, degrees: 5th/50th/95th percentile) of the motion prior (for non-Anny bodies: as
    retargeted) against the IK-retargeted real motion, left and right pooled."""
    from metahmr_trainer.retarget import motion_prior

    from metahmr_video.core.layout import STANDARD_JOINTS
    from metahmr_video.core.rotations import axis_angle_to_rotmat, geodesic_angle

    real, _ = real_motion_poses(body, cache_dir, max(1, n // len(CLIPS)))
    prior = axis_angle_to_rotmat(motion_prior(body).sample(4096, torch.Generator().manual_seed(seed)))
    eye = torch.eye(3)
    out = {}
    bone = {name: body.standard_joint_indices[i] for i, name in enumerate(STANDARD_JOINTS)}
    for b in PRIOR_CHECK_JOINTS:
        idx = [bone[b]] + ([bone[b.replace("left", "right")]] if "left" in b else [])
        row = {}
        for name, pose in (("prior", prior), ("real", real)):
            ang = torch.rad2deg(geodesic_angle(pose[:, idx], eye.expand_as(pose[:, idx]))).flatten()
            q = torch.quantile(ang, torch.tensor([0.05, 0.5, 0.95]))
            row[name] = [round(v, 1) for v in q.tolist()]
        out[b.replace("left_", "")] = row
    return out


def joint_errors(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample MPJPE and PA-MPJPE in mm for [N,15,3] joints (pelvis = index 0)."""
    mp = ((pred - pred[:, :1]) - (gt - gt[:, :1])).norm(dim=-1).mean(-1) * 1000
    pa = pa_errors(pred, gt).mean(-1) * 1000
    return mp, pa


def curve(fitter, ev, gt_std: torch.Tensor, start: str, steps: int) -> dict:
    """Errors at every step 0..steps for one method: {"mpjpe": [...], "pa_mpjpe": [...], "se_pa": [...]}."""
    per_step: dict[int, list[torch.Tensor]] = {}

    def cb(s, joints):
        per_step.setdefault(s, []).append(joints[:, fitter.body.standard_joint_indices].cpu())
    t = time.time()
    fitter.fit_evidence(ev, steps=steps, start=start, callback=cb)
    res = {"mpjpe": [], "pa_mpjpe": [], "pa_per_sample": []}
    for s in range(steps + 1):
        mp, pa = joint_errors(torch.cat(per_step[s]), gt_std)
        res["mpjpe"].append(round(mp.mean().item(), 2))
        res["pa_mpjpe"].append(round(pa.mean().item(), 2))
        res["pa_per_sample"].append(pa)
    res["seconds"] = round(time.time() - t, 1)
    return res


def build_cases(body, split: str, n: int, cache_dir: Path, seed: int = 2_000_000_777):
    """(Evidence, gt standard joints [N,15,3] camera frame) for 'real' (bvhtools clips) or 'synthetic'."""
    from metahmr_trainer.data import SyntheticData, fixed_split

    if split == "synthetic":
        ev, tg = fixed_split(body, n, seed=seed)
    else:
        pose, _ = real_motion_poses(body, cache_dir, max(1, n // len(CLIPS)))
        g = torch.Generator().manual_seed(seed)
        shape = body.neutral_shape(pose.shape[0])
        ev, tg, _ = SyntheticData(body).observe(pose, shape, g, random_heading=True)
    return ev, tg.joints[:, body.standard_joint_indices]


def evaluate(methods: dict[str, tuple], body, splits=("real", "synthetic"), n: int = 600, steps: int = 20,
             cache_dir: Path = Path.home() / ".cache" / "metahmr-video" / "bvh", out_dir: Path | None = None) -> dict:
    """methods: name -> (Fitter, start, steps or 0). Returns {split: {method: curve}} and writes
    results.json and curves.png into out_dir."""
    results: dict = {}
    for split in splits:
        ev, gt = build_cases(body, split, n, cache_dir)
        results[split] = {"n": len(ev)}
        for name, (fitter, start, k) in methods.items():
            log.info("evaluating %s on %s (%d people, %d steps)", name, split, len(ev), k)
            results[split][name] = curve(fitter, ev, gt, start, k)
        # paired standard errors of every method against EFT at each step
        if "EFT" in results[split]:
            base = results[split]["EFT"]["pa_per_sample"]
            for name, r in results[split].items():
                if isinstance(r, dict) and "pa_per_sample" in r and name != "EFT":
                    r["pa_minus_eft"] = [[round((a - base[min(i, len(base) - 1)]).mean().item(), 2),
                                          round(((a - base[min(i, len(base) - 1)]).std() / len(a) ** 0.5).item(), 2)]
                                         for i, a in enumerate(r["pa_per_sample"])]
        for r in results[split].values():
            if isinstance(r, dict):
                r.pop("pa_per_sample", None)
    if "real" in splits:
        results["prior_check_deg_p5_p50_p95"] = prior_check(body, n, cache_dir)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=1))
        plot(results, out_dir / "curves.png")
    return results


def plot(results: dict, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot written (pip install matplotlib)")
        return
    splits = [k for k in results if k in ("real", "synthetic")]
    fig, axes = plt.subplots(2, len(splits), figsize=(6 * len(splits), 8), squeeze=False)
    for c, split in enumerate(splits):
        for r, metric in enumerate(("pa_mpjpe", "mpjpe")):
            ax = axes[r, c]
            for name, res in results[split].items():
                if not isinstance(res, dict):
                    continue
                ys = res[metric]
                if len(ys) == 1:
                    ax.axhline(ys[0], color="gray", linestyle="--", label=name)
                else:
                    ax.plot(range(len(ys)), ys, label=name)
            ax.set_title(f"{split}: {metric} (mm)")
            ax.set_xlabel("TTO steps")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def format_table(results: dict, show_steps=(0, 1, 2, 3, 5, 10, 15, 20)) -> str:
    lines = []
    for split, res in results.items():
        if split not in ("real", "synthetic"):
            lines.append(f"\n{split}: " + json.dumps(res))
            continue
        lines.append(f"\n{split} (N={res['n']}): PA-MPJPE / MPJPE (mm) at TTO step")
        lines.append("| method | " + " | ".join(str(s) for s in show_steps) + " |")
        lines.append("|---" * (len(show_steps) + 1) + "|")
        for name, r in res.items():
            if not isinstance(r, dict):
                continue
            cells = []
            for s in show_steps:
                i = min(s, len(r["pa_mpjpe"]) - 1)
                cells.append(f"{r['pa_mpjpe'][i]:.1f} / {r['mpjpe'][i]:.1f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
