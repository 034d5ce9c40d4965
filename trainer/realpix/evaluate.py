"""Monocular evaluation on real pixels: every view of the pose2sim demo, each person-frame scored
against the multi-view reference in that camera's frame.

    from trainer.realpix import load_split, evaluate_realpix, format_table
    split = load_split()                                  # fetch + detect + triangulate, cached
    res = evaluate_realpix(Fitter.load("new.pt"), split)  # rows: MediaPipe, no TTO, EFT, meta, ...
    print(format_table(res))
    split.score(landmarks33)                              # any method's [S,33,3] camera-frame landmarks

Samples: (view, frame) pairs where the reference has the chosen person. The reference for view v
is triangulated WITHOUT view v (its own detections never enter its reference). Every method's 33
landmarks go through the same 33 -> 15 joint rule (trainer.realpix.joints); the Anny rows also
report Anny's own 15 standard joints ("anny_joints"). MPJPE: after subtracting the pelvis, camera
frame; PA-MPJPE: after a similarity Procrustes alignment; mm. Paired differences against the
MediaPipe row use blocks of 10 consecutive frames per view as the unit for the standard error
(neighbouring frames at 60 fps are not independent).

Each view's monocular input: that view's detections, undistorted with the calibration, the
camera's true focal length and principal point. The pipeline row runs the `run` command's stages
(detector, tracker, adapter with the temporal prior, smoother) on the view's video with the true
focal length (the pipeline keeps its principal point at the image centre and its distorted
pixels) and picks, per frame, the tracked person whose keypoints match the chosen detection.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from metahmr_video.detect.landmarks import box_from_keypoints
from trainer.realpix.data import DEFAULT_CACHE, Camera, fetch_demo, read_qca
from trainer.realpix.detections import ViewDetections, cached_detections
from trainer.realpix.joints import standard_from_landmarks
from trainer.realpix.reference import Reference, build_reference, undistorted_views

log = logging.getLogger("metahmr_video.realpix")
STEPS = (0, 1, 3, 5, 10, 20)
BLOCK = 10


def _procrustes(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity-align pred [N,K,3] to gt [N,K,3] (numpy)."""
    mp, mg = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mp, gt - mg
    u, s, vt = np.linalg.svd(np.swapaxes(p, 1, 2) @ g)
    d = np.sign(np.linalg.det(u @ vt))
    dm = np.stack([np.ones_like(d), np.ones_like(d), d], -1)
    r = u @ (dm[..., None] * vt)
    scale = (s * dm).sum(-1) / (p ** 2).sum((1, 2))
    return scale[:, None, None] * p @ r + mg


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample MPJPE (pelvis = joint 0 subtracted) and PA-MPJPE, mm, for [N,15,3] metres;
    NaN for samples whose prediction is missing."""
    mp = np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean(-1) * 1000
    ok = np.isfinite(pred).all((1, 2))
    pa = np.full(len(pred), np.nan)
    if ok.any():
        pa[ok] = np.linalg.norm(_procrustes(pred[ok], gt[ok]) - gt[ok], axis=-1).mean(-1) * 1000
    return mp, pa


@dataclass
class RealPixSplit:
    """S person-frames. view [S], frame [S] indices; kp2d [S,33,2] undistorted pixels; conf
    [S,33]; world [S,33,3] MediaPipe world landmarks; boxes [S,4] xyxy (undistorted); focal [S],
    center [S,2] pixels; image_size [S,2]; gt [S,15,3] reference joints in the view's camera
    frame (without the view); gt_all [S,15,3] the same from all views; gt_landmarks [S,33,3]
    (without the view)."""

    cams: list[Camera]
    dets: list[ViewDetections]
    ref: Reference
    videos: list[Path]
    cache_dir: Path
    view: np.ndarray
    frame: np.ndarray
    kp2d: np.ndarray
    conf: np.ndarray
    world: np.ndarray
    boxes: np.ndarray
    focal: np.ndarray
    center: np.ndarray
    image_size: np.ndarray
    gt: np.ndarray
    gt_all: np.ndarray
    gt_landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.view)

    def evidence(self, device: str = "cpu"):
        """The Fitter's Evidence for every sample (true focal and principal point)."""
        from metahmr_video.fit import make_evidence
        from metahmr_video.model.features import Evidence

        parts = []
        for v in np.unique(self.view):
            s = self.view == v
            ev, _ = make_evidence(self.kp2d[s], self.conf[s], self.world[s], self.boxes[s],
                                  tuple(self.image_size[s][0]), float(self.focal[s][0]))
            parts.append(replace(ev, img_center=torch.as_tensor(self.center[s], dtype=torch.float32)))
        cat = {k: torch.cat([getattr(p, k) for p in parts]) for k in Evidence.__dataclass_fields__}
        return Evidence(**cat).to(device)

    def score(self, landmarks: np.ndarray | None = None, joints15: np.ndarray | None = None,
              reference: str = "loo") -> dict:
        """Score one method: its [S,33,3] landmarks (mapped to 15 joints by the shared rule) or its
        own [S,15,3] joints, camera frame metres (NaN rows = no output). Returns means, per-view
        means and the per-sample errors."""
        pred = standard_from_landmarks(landmarks) if joints15 is None else joints15
        gt = self.gt if reference == "loo" else self.gt_all
        mp, pa = joint_errors(np.asarray(pred, np.float64), gt)
        per_view = {self.cams[v].name: [round(float(np.nanmean(pa[self.view == v])), 1),
                                        round(float(np.nanmean(mp[self.view == v])), 1)] for v in np.unique(self.view)}
        return {"pa_mpjpe": round(float(np.nanmean(pa)), 1), "mpjpe": round(float(np.nanmean(mp)), 1),
                "coverage": round(float(np.isfinite(pa).mean()), 3), "per_view_pa_mp": per_view,
                "_pa": pa, "_mp": mp}

    def paired(self, a: np.ndarray, b: np.ndarray) -> list[float]:
        """Mean of a - b (per-sample errors) and its standard error over blocks of BLOCK frames."""
        d = a - b
        keys = self.view * 100000 + self.frame // BLOCK
        blocks = np.array([np.nanmean(d[keys == k]) for k in np.unique(keys) if np.isfinite(d[keys == k]).any()])
        return [round(float(np.nanmean(d)), 1), round(float(blocks.std(ddof=1) / np.sqrt(len(blocks))), 1)]


def load_split(cache_dir: Path = DEFAULT_CACHE, progress: bool = True) -> RealPixSplit:
    """Fetch the demo, detect every view (cached), build the reference and the samples."""
    demo = fetch_demo(cache_dir)
    cams = read_qca(demo / "calibration" / "Calib.qca.txt")
    videos = [demo / "videos" / f"{c.name}.mp4" for c in cams]
    dets = [cached_detections(v, cache_dir, progress) for v in videos]
    ref = build_reference(dets, cams)
    xs = undistorted_views(dets, cams)
    rows = {k: [] for k in ("view", "frame", "kp2d", "conf", "world", "boxes", "focal", "center", "image_size",
                            "gt", "gt_all", "gt_landmarks")}
    for v, (cam, d) in enumerate(zip(cams, dets)):
        loo = ref.joints(v)
        full = ref.joints()
        for f in range(len(d.count)):
            j = ref.person[f, v]
            if j < 0 or not np.isfinite(loo[f]).all():
                continue
            w, h = d.image_size
            kp, conf = xs[v][f, j], d.conf[f, j]
            box = np.clip(box_from_keypoints(kp, conf, min_conf=0.5), 0, [w, h, w, h])
            for k, val in (("view", v), ("frame", f), ("kp2d", kp), ("conf", conf), ("world", d.world[f, j]),
                           ("boxes", box), ("focal", cam.K[0, 0]), ("center", cam.K[:2, 2]), ("image_size", (w, h)),
                           ("gt", cam.to_camera(loo[f])), ("gt_all", cam.to_camera(full[f])),
                           ("gt_landmarks", cam.to_camera(ref.loo[v, f]))):
                rows[k].append(val)
    arr = {k: np.asarray(v) for k, v in rows.items()}
    return RealPixSplit(cams, dets, ref, videos, Path(cache_dir), **arr)


def fitter_rows(fitter, split: RealPixSplit, steps=STEPS, starts=("plain", "meta"), device: str = "cpu") -> dict:
    """{(start, k): FitResult} for the Fitter at each step count (plain: EFT, k = 0 is no TTO)."""
    ev = split.evidence(device)
    out = {}
    for start in starts:
        for k in steps:
            t = time.time()
            out[(start, k)] = fitter.fit_evidence(ev, steps=k, start=start)
            log.info("%s @%d: %.1f s", start, k, time.time() - t)
    return out


def optimisation_row(body, split: RealPixSplit) -> np.ndarray:
    """Landmarks [S,33,3] of Anny fitted to the world landmarks + 2D (no network)."""
    from trainer.realpix.optfit import fit_landmarks

    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    size = np.maximum(split.boxes[:, 2] - split.boxes[:, 0], split.boxes[:, 3] - split.boxes[:, 1])
    out, _ = fit_landmarks(body, t(split.world), t(split.conf), t(split.kp2d), t(split.conf), t(split.focal),
                           t(split.center), t(size))
    return out.keypoints.numpy()


def floor_fit(body, split: RealPixSplit) -> dict:
    """The joint-definition floor: Anny fitted to the reference landmarks themselves (3D, body
    landmarks); its landmarks [S,33,3] and Anny's own standard joints [S,15,3]."""
    from trainer.realpix.optfit import fit_landmarks

    w = np.zeros((len(split), 33), np.float32)
    w[:, [0, 7, 8] + list(range(11, 17)) + list(range(23, 33))] = 1.0
    out, _ = fit_landmarks(body, torch.as_tensor(split.gt_landmarks, dtype=torch.float32), torch.as_tensor(w),
                           w_pose=1e-4, w_shape=1e-4, iters=400)
    return {"landmarks": out.keypoints.numpy(), "joints": out.joints[:, body.standard_joint_indices].numpy()}


def pipeline_row(split: RealPixSplit, checkpoint=None, steps: int | None = None, progress: bool = True) -> np.ndarray:
    """Landmarks [S,33,3] that `metahmr-video run` (default config, true focal) gives the chosen
    person in each view's video; NaN where it gave none."""
    from tqdm import tqdm

    from metahmr_video.config import Config
    from metahmr_video.runner import Runner
    from metahmr_video.sources import open_source

    cfg = Config()
    cfg.adapt.checkpoint = None if checkpoint is None else str(checkpoint)
    cfg.adapt.steps = steps
    runner = Runner(cfg)
    out = np.full((len(split), 33, 3), np.nan)
    for v, video in enumerate(split.videos):
        people_per_frame: dict[int, list] = {}

        class Collect:
            def write(self, frame, people):
                people_per_frame[frame.index] = people

            def close(self):
                pass
        source = open_source(str(video))
        frames = tqdm(source, total=len(source), desc=f"run {video.name}", unit="frame", disable=not progress, leave=False)
        runner.config.adapt.focal = float(split.cams[v].K[0, 0])
        d = split.dets[v]
        runner.pipeline(runner.config.adapt.focal).run(frames, [Collect()])
        for i in np.flatnonzero(split.view == v):
            f = split.frame[i]
            target = d.keypoints2d[f, split.ref.person[f, v]]
            height = d.boxes[f, split.ref.person[f, v], 3] - d.boxes[f, split.ref.person[f, v], 1]
            best, best_d = None, 0.1 * height
            for p in people_per_frame.get(int(f), []):
                dist = float(np.median(np.linalg.norm(p.keypoints2d - target, axis=-1)))
                if dist < best_d:
                    best, best_d = p, dist
            if best is not None:
                out[i] = best.keypoints3d
    return out


ROWS_VERSION = 1


def cached_arrays(split: RealPixSplit, name: str, compute) -> dict:
    """Checkpoint-independent results (dict of arrays over the samples) computed once per split:
    stored in split.cache_dir/rows_<name>.npz with the split's (view, frame) and reference, reused
    while those are unchanged."""
    path = split.cache_dir / f"rows_{name}.npz"
    key = np.concatenate([split.view, split.frame, split.gt.ravel(), [ROWS_VERSION]])
    if path.is_file():
        with np.load(path) as z:
            if z["key"].shape == key.shape and np.allclose(z["key"], key):
                return {k: z[k] for k in z.files if k != "key"}
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, key=key, **out)
    return out


def evaluate_realpix(fitter, split: RealPixSplit | None = None, steps=STEPS, optimisation: bool = True,
                     pipeline: bool = True, floor: bool = True, checkpoint=None, progress: bool = True,
                     out_dir: Path | None = None, cache_dir: Path = DEFAULT_CACHE, extra: dict | None = None) -> dict:
    """All rows of the real-pixel table for one Fitter (see the module docstring). `checkpoint`
    is what the pipeline row loads (None: the shipped one; pass the same file as the Fitter's).
    extra: {name: Fitter} more checkpoints, evaluated as meta rows "name @k". Writes
    out_dir/realpix.json when out_dir is given."""
    import json

    split = load_split(cache_dir, progress) if split is None else split
    body = fitter.body
    res: dict = {"n": len(split), "views": [c.name for c in split.cams], "reference": split.ref.uncertainty(),
                 "rows": {}}
    rows = res["rows"]
    rows["MediaPipe world landmarks"] = split.score(split.world)
    rows["MediaPipe world landmarks"]["vs_all_view_reference"] = {
        k: v for k, v in split.score(split.world, reference="all").items() if not k.startswith("_") and k != "per_view_pa_mp"}
    fits = fitter_rows(fitter, split, steps)
    for (start, k), r in fits.items():
        name = ("no TTO" if k == 0 else f"EFT @{k}") if start == "plain" else f"meta @{k}"
        row = split.score(r.keypoints3d.numpy())
        row["anny_joints"] = {a: b for a, b in split.score(joints15=r.joints[:, body.standard_joint_indices].numpy()).items()
                              if a in ("pa_mpjpe", "mpjpe")}
        row["reproj_px"] = round(float(r.reproj_error.mean()), 1)
        rows[name] = row
    for label, other in (extra or {}).items():
        for (_, k), r in fitter_rows(other, split, steps, starts=("meta",)).items():
            rows[f"{label} @{k}"] = split.score(r.keypoints3d.numpy())
    if optimisation:
        opt = cached_arrays(split, "optimisation", lambda: {"landmarks": optimisation_row(body, split)})
        rows["optimisation only (Anny fit to world + 2D)"] = split.score(opt["landmarks"])
    if pipeline:
        t = time.time()
        rows["pipeline (run: tracker + temporal prior + smoother)"] = split.score(pipeline_row(split, checkpoint, progress=progress))
        log.info("pipeline row: %.1f s", time.time() - t)
    if floor:
        fl = cached_arrays(split, "floor", lambda: floor_fit(body, split))
        res["floor"] = {name: {a: b for a, b in sc.items() if a in ("pa_mpjpe", "mpjpe")} for name, sc in
                        (("landmarks", split.score(fl["landmarks"])), ("anny_joints", split.score(joints15=fl["joints"])))}
    base = rows["MediaPipe world landmarks"]
    for name, row in rows.items():
        if name != "MediaPipe world landmarks":
            row["pa_minus_mediapipe"] = split.paired(row["_pa"], base["_pa"])
            row["mpjpe_minus_mediapipe"] = split.paired(row["_mp"], base["_mp"])
    for row in rows.values():
        row.pop("_pa"), row.pop("_mp")
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "realpix.json").write_text(json.dumps(res, indent=1))
    return res


def format_table(res: dict) -> str:
    """Markdown: one row per method (PA-MPJPE / MPJPE mm, PA difference to MediaPipe +- SE, per view PA)."""
    views = res["views"]
    lines = [f"real pixels (pose2sim Demo_SinglePerson, {len(views)} views, N={res['n']} person-frames): "
             "PA-MPJPE / MPJPE mm, 15 joints",
             "| method | PA-MPJPE | MPJPE | PA - MediaPipe (+- SE) | " + " | ".join(f"PA {v}" for v in views) + " |",
             "|---" * (4 + len(views)) + "|"]
    for name, r in res["rows"].items():
        diff = r.get("pa_minus_mediapipe")
        d = "" if diff is None else f"{diff[0]:+.1f} +- {diff[1]:.1f}"
        cov = "" if r["coverage"] >= 0.999 else f" ({100 * r['coverage']:.0f}% of frames)"
        lines.append(f"| {name}{cov} | {r['pa_mpjpe']:.1f} | {r['mpjpe']:.1f} | {d} | "
                     + " | ".join(f"{r['per_view_pa_mp'].get(v, [np.nan])[0]:.1f}" for v in views) + " |")
    ref = res["reference"]
    lines.append(f"\nreference: leave-one-view-out vs all views {ref['loo_vs_all_mm_mean']} mm mean "
                 f"({ref['loo_vs_all_mm_median']} median); reprojection {ref['reprojection_px_mean']} px mean")
    if "floor" in res:
        fl = res["floor"]
        lines.append(f"floor (Anny fitted to the reference landmarks): PA/MPJPE {fl['landmarks']['pa_mpjpe']}/"
                     f"{fl['landmarks']['mpjpe']} mm with the shared joint rule, {fl['anny_joints']['pa_mpjpe']}/"
                     f"{fl['anny_joints']['mpjpe']} mm with Anny's own joints")
    return "\n".join(lines)
