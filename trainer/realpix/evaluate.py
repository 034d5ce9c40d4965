"""Monocular evaluation on real pixels: every view of the pose2sim demo, each person-frame scored
against the multi-view reference in that camera's frame.

    from metahmr_trainer.realpix import load_split, evaluate_realpix, format_table
    split = load_split()                                  # fetch + detect + triangulate, cached
    res = evaluate_realpix(Fitter.load("new.pt"), split)  # rows: MediaPipe, no TTO, EFT, meta, ...
    print(format_table(res))
    split.score(landmarks33)                              # any method's [S,33,3] camera-frame landmarks

Samples: (view, frame) pairs where the reference has the chosen person. The reference for view v
is triangulated WITHOUT view v (its own detections never enter its reference). Every method's 33
landmarks go through the same 33 -> 15 joint rule (metahmr_trainer.realpix.joints); the Anny rows also
report Anny's own 15 standard joints ("anny_joints"). MPJPE: after subtracting the pelvis, camera
frame; PA-MPJPE: after a similarity Procrustes alignment; mm. Paired differences against the
MediaPipe row use blocks of 10 consecutive frames per view as the unit for the standard error
(neighbouring frames at 60 fps are not independent).

Each view's monocular input: that view's detections, undistorted with the calibration, the
camera's true focal length and principal point; for our rows, with the front/back label flips
fixed the way the product's tracker fixes them (`RealPixSplit.facing_fixed`; the MediaPipe row
stays as the detector gives it, and a second MediaPipe row shows it after the same fix). The pipeline row runs the `run` command's stages
(detector, tracker, adapter with the temporal prior, smoother, landmark definitions) on the view's
video with the true focal length (the pipeline keeps its principal point at the image centre and
its distorted pixels) and picks, per frame, the tracked person whose keypoints match the chosen
detection; a second pipeline row leaves out the landmark definitions (the hips and shoulders are
then the body model's joint centres).
The online row isolates one of its parts: meta at the default steps with each frame starting from
the previous frame's adaptation (`AdaptConfig.carry`), on the fixed detections.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.boxes import box_from_keypoints
from metahmr_trainer.metrics import pa_errors
from metahmr_trainer.realpix.data import DEFAULT_CACHE, Camera, fetch_demo, read_qca
from metahmr_trainer.realpix.detections import ViewDetections, cached_detections
from metahmr_trainer.realpix.joints import standard_from_landmarks
from metahmr_trainer.realpix.reference import Reference, build_reference, undistorted_views

log = logging.getLogger("metahmr_video.realpix")
STEPS = (0, 1, 2, 3, 5, 10, 20)
BLOCK = 10


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample, per-joint errors in mm for [N,15,3] metres (pelvis = joint 0): after
    subtracting the pelvis (MPJPE) and after a similarity alignment (PA-MPJPE, roma's
    least-squares registration with scale); NaN rows for samples whose prediction is missing."""
    mp = np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1) * 1000
    pa = np.full(gt.shape[:2], np.nan)
    ok = np.isfinite(pred).all((1, 2))
    if ok.any():
        p, g = torch.as_tensor(pred[ok], dtype=torch.float64), torch.as_tensor(gt[ok], dtype=torch.float64)
        pa[ok] = pa_errors(p, g).numpy() * 1000
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

    def facing_fixed(self) -> "RealPixSplit":
        """The split as the product's tracker hands it on: each view's frames in order through one
        `FacingFilter` (front/back label flips swapped back in kp2d, conf and world)."""
        from metahmr_video.core.records import Detection
        from metahmr_video.track.facing import FacingFilter

        kp2d, conf, world = self.kp2d.copy(), self.conf.copy(), self.world.copy()
        for v in np.unique(self.view):
            fix = FacingFilter()
            for i in np.flatnonzero(self.view == v)[np.argsort(self.frame[self.view == v])]:
                d = fix(Detection(self.boxes[i], 1.0, self.kp2d[i], self.conf[i], self.world[i]))
                kp2d[i], conf[i], world[i] = d.keypoints2d, d.keypoint_conf, d.world_landmarks
        return replace(self, kp2d=kp2d, conf=conf, world=world)

    def evidence(self, device: str = "cpu"):
        """The Fitter's Evidence for every sample (true focal and principal point)."""
        from metahmr_video.adapt import make_evidence
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
              reference: str = "loo", absolute: bool = True) -> dict:
        """Score one method: its [S,33,3] landmarks (mapped to 15 joints by the shared rule) or its
        own [S,15,3] joints, camera frame metres (NaN rows = no output). Returns means, per-view
        and per-joint PA means, the pelvis position error (absolute=True: methods that place the
        body in the camera frame) and the per-sample errors ("_pa", "_mp")."""
        from metahmr_video.core.layout import STANDARD_JOINTS

        pred = np.asarray(standard_from_landmarks(landmarks) if joints15 is None else joints15, np.float64)
        gt = self.gt if reference == "loo" else self.gt_all
        mp_joint, pa_joint = joint_errors(pred, gt)
        mp, pa = mp_joint.mean(-1), pa_joint.mean(-1)
        ok = np.isfinite(pa)
        per_joint = np.nanmean(pa_joint, axis=0)
        per_view = {self.cams[v].name: [round(float(np.nanmean(pa[self.view == v])), 1),
                                        round(float(np.nanmean(mp[self.view == v])), 1)] for v in np.unique(self.view)}
        out = {"pa_mpjpe": round(float(np.nanmean(pa)), 1), "mpjpe": round(float(np.nanmean(mp)), 1),
               "coverage": round(float(ok.mean()), 3), "per_view_pa_mp": per_view,
               "pa_per_joint": {n: round(float(e), 1) for n, e in zip(STANDARD_JOINTS, per_joint)},
               "_pa": pa, "_mp": mp}
        if absolute:
            out["pelvis_position_mm"] = round(float(np.nanmean(np.linalg.norm(pred[:, 0] - gt[:, 0], axis=-1)) * 1000), 1)
        return out

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


ROWS_VERSION = 2


def cached_arrays(split: RealPixSplit, name: str, compute, refresh: bool = False) -> dict:
    """Results (dict of arrays over the samples) computed once per split and `name` (which must
    say what they depend on): stored in split.cache_dir/rows_<name>.npz with the split's samples,
    inputs and reference, reused while those are unchanged (refresh: recompute). Code changes are not
    detected: pass refresh after changing the fitting or pipeline code."""
    path = split.cache_dir / f"rows_{name}.npz"
    key = np.concatenate([split.view, split.frame, split.gt.ravel(), split.kp2d.ravel(), split.world.ravel(),
                          [ROWS_VERSION]])
    if path.is_file() and not refresh:
        with np.load(path) as z:
            if z["key"].shape == key.shape and np.allclose(z["key"], key):
                return {k: z[k] for k in z.files if k != "key"}
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, key=key, **out)
    return out


def _fit_key(fitter, start: str) -> str:
    """Content hash of what a Fitter's `start` path computes with (networks, rates, lr, losses)."""
    import hashlib
    import json

    c = fitter.ckpt
    nets = (c.plain,) if start == "plain" else (c.meta, c.aux)
    h = hashlib.sha1(json.dumps([start, c.loss_config.to_dict(), float(c.eft_lr), float(c.lr)], sort_keys=True).encode())
    tensors = [t for net in nets if net is not None for t in net.state_dict().values()]
    if start == "meta" and fitter.rates is not None:
        tensors += [fitter.rates[k] for k in sorted(fitter.rates)]
    for t in tensors:
        h.update(t.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:12]


def _config_key(config=None) -> str:
    """Hash of a pipeline configuration (default: the pipeline's default; a pipeline row depends on it)."""
    import hashlib
    import json

    from metahmr_video.app.config import Config, config_dict

    cfg = Config() if config is None else config
    return hashlib.sha1(json.dumps(config_dict(cfg), sort_keys=True).encode()).hexdigest()[:8]


def fitter_rows(fitter, split: RealPixSplit, steps=STEPS, starts=("plain", "meta"), device: str = "cpu",
                refresh: bool = False) -> dict:
    """{(start, k): {"landmarks" [S,33,3], "joints" [S,15,3] Anny's standard joints, "reproj_px"
    [S]}} for the Fitter at each step count (plain: EFT, k = 0 is no TTO); cached per split and
    network content, so re-running an unchanged checkpoint costs nothing."""
    out = {}
    ev = None
    for start in starts:
        for k in steps:
            def compute():
                nonlocal ev
                ev = split.evidence(device) if ev is None else ev
                t = time.time()
                r = fitter.fit_evidence(ev, steps=k, start=start)
                log.info("%s @%d: %.1f s", start, k, time.time() - t)
                return {"landmarks": r.keypoints3d.numpy(), "reproj_px": r.reproj_error.numpy(),
                        "joints": r.joints[:, fitter.body.standard_joint_indices].numpy()}
            out[(start, k)] = cached_arrays(split, f"fit_{_fit_key(fitter, start)}_{k}", compute, refresh)
    return out


def photo_row(fitter, split: RealPixSplit) -> dict:
    """{"landmarks" [S,33,3], "reproj_px" [S], "from_landmarks" [S]}: each person-frame fitted as
    `run --photos` fits a photo (`AdaptConfig.for_photo`: its steps, the landmark start, each
    person's test loss anchored to their own first prediction with the temporal prior's weight, as
    the Adapter does for a person without a previous body); no tracker or smoother; true camera."""
    from metahmr_video.adapt import AdaptConfig

    cfg = AdaptConfig().for_photo()
    ev = split.evidence()
    n, body = len(ev), fitter.body
    none = (torch.zeros(n, body.num_bones, 3, 3), torch.zeros(n, body.num_shape), torch.zeros(n, dtype=torch.bool))
    r = fitter.fit_evidence(ev, steps=cfg.steps, prior=none, prior_weight=cfg.temporal_prior,
                            landmark_start=cfg.landmark_start == "always")
    return {"landmarks": r.keypoints3d.numpy(), "reproj_px": r.reproj_error.numpy(),
            "from_landmarks": r.from_landmarks.numpy()}


def online_row(fitter, split: RealPixSplit, steps: int | None = None) -> dict:
    """{"landmarks" [S,33,3]}: meta at `steps` (None: the default) on each view's person-frames in
    order, each frame's steps starting from the previous frame's adaptation (`Fitter.next_carry`,
    what `run` does with `AdaptConfig.carry` = 1), without tracker, prior or smoother; the
    calibrated principal point like the per-frame rows."""
    ev = split.evidence()
    out = np.full((len(split), 33, 3), np.nan, np.float32)
    for v in np.unique(split.view):
        carry = None
        for i in np.flatnonzero(split.view == v)[np.argsort(split.frame[split.view == v])]:
            r = fitter.fit_evidence(ev.index(slice(i, i + 1)), steps=steps, carry=carry, return_carry=True)
            carry = fitter.next_carry(r.carry)
            out[i] = r.keypoints3d[0].numpy()
    return {"landmarks": out}


def optimisation_row(body, split: RealPixSplit) -> np.ndarray:
    """Landmarks [S,33,3] of Anny fitted to the world landmarks + 2D (no network)."""
    from metahmr_video.adapt.landmark_fit import fit_landmarks

    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    size = np.maximum(split.boxes[:, 2] - split.boxes[:, 0], split.boxes[:, 3] - split.boxes[:, 1])
    out, _ = fit_landmarks(body, t(split.world), t(split.conf), t(split.kp2d), t(split.conf), t(split.focal),
                           t(split.center), t(size))
    return out.keypoints.numpy()


def floor_fit(body, split: RealPixSplit) -> dict:
    """The joint-definition floor: Anny fitted to the reference landmarks themselves (3D, body
    landmarks); its landmarks [S,33,3] and Anny's own standard joints [S,15,3]."""
    from metahmr_video.adapt.landmark_fit import fit_landmarks

    w = np.zeros((len(split), 33), np.float32)
    w[:, [0, 7, 8] + list(range(11, 17)) + list(range(23, 33))] = 1.0
    out, _ = fit_landmarks(body, torch.as_tensor(split.gt_landmarks, dtype=torch.float32), torch.as_tensor(w),
                           w_pose=1e-4, w_shape=1e-4, iters=400)
    return {"landmarks": out.keypoints.numpy(), "joints": out.joints[:, body.standard_joint_indices].numpy()}


def pipeline_row(split: RealPixSplit, checkpoint=None, steps: int | None = None, progress: bool = True,
                 config=None) -> np.ndarray:
    """Landmarks [S,33,3] that `metahmr-video run` (default config or `config`, true focal) gives
    the chosen person in each view's video; NaN where it gave none."""
    from tqdm import tqdm

    from metahmr_video.app.config import Config, override
    from metahmr_video.app.runner import Runner
    from metahmr_video.sources import open_source
    from metahmr_video.track.facing import MIRROR

    cfg = override(Config() if config is None else config,
                   {"adapt.checkpoint": None if checkpoint is None else str(checkpoint), "adapt.steps": steps})
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
        d = split.dets[v]
        runner.pipeline(float(split.cams[v].K[0, 0])).run(frames, [Collect()])
        for i in np.flatnonzero(split.view == v):
            f = split.frame[i]
            target = d.keypoints2d[f, split.ref.person[f, v]]
            height = d.boxes[f, split.ref.person[f, v], 3] - d.boxes[f, split.ref.person[f, v], 1]
            best, best_d = None, 0.1 * height
            for p in people_per_frame.get(int(f), []):  # either labelling: the tracker may have swapped them
                dist = min(float(np.median(np.linalg.norm(p.keypoints2d - t, axis=-1))) for t in (target, target[MIRROR]))
                if dist < best_d:
                    best, best_d = p, dist
            if best is not None:
                out[i] = best.keypoints3d
    return out


def evaluate_realpix(fitter, split: RealPixSplit | None = None, steps=STEPS, optimisation: bool = True,
                     pipeline: bool = True, floor: bool = True, checkpoint=None, progress: bool = True,
                     out_dir: Path | None = None, cache_dir: Path = DEFAULT_CACHE, extra: dict | None = None,
                     refresh: bool = False, baselines: bool = True) -> dict:
    """All rows of the real-pixel table for one Fitter (see the module docstring). `checkpoint`
    is what the pipeline row loads (None: the shipped one; pass the same file as the Fitter's).
    extra: {name: Fitter} more checkpoints, evaluated as meta rows "name @k"; baselines=False
    skips the plain regressor's rows (no TTO, EFT). Rows are cached per
    network content (see `cached_arrays`; refresh recomputes them). Writes out_dir/realpix.json
    when out_dir is given."""
    import json

    split = load_split(cache_dir, progress) if split is None else split
    ours = split.facing_fixed()  # what the product's tracker hands on
    body = fitter.body
    # name -> (landmarks [S,33,3] camera frame, Anny's own standard joints [S,15,3] or None, extras)
    preds: dict[str, tuple] = {"MediaPipe world landmarks": (split.world, None, {}),
                               "MediaPipe world landmarks, flips fixed by our tracker": (ours.world, None, {})}
    starts = ("plain", "meta") if baselines else ("meta",)
    for (start, k), r in fitter_rows(fitter, ours, steps, starts, refresh=refresh).items():
        name = ("no TTO" if k == 0 else f"EFT @{k}") if start == "plain" else f"meta @{k}"
        preds[name] = (r["landmarks"], r["joints"], {"reproj_px": round(float(r["reproj_px"].mean()), 1)})
    for label, other in (extra or {}).items():
        for (_, k), r in fitter_rows(other, ours, steps, starts=("meta",), refresh=refresh).items():
            preds[f"{label} @{k}"] = (r["landmarks"], r["joints"], {"reproj_px": round(float(r["reproj_px"].mean()), 1)})
    k = fitter.default_steps
    online = cached_arrays(ours, f"online_{_fit_key(fitter, 'meta')}_{k}", lambda: online_row(fitter, ours, k), refresh)
    preds[f"meta @{k}, adaptation carried across frames"] = (online["landmarks"], None, {})
    if optimisation:
        opt = cached_arrays(ours, "optimisation", lambda: {"landmarks": optimisation_row(body, ours)}, refresh)
        preds["optimisation only (Anny fit to world + 2D)"] = (opt["landmarks"], None, {})
        photo = cached_arrays(ours, f"photo_{_fit_key(fitter, 'meta')}_{_config_key()}", lambda: photo_row(fitter, ours),
                              refresh)
        preds["each frame as a photo (run --photos: meta @20 or the landmark fit)"] = (
            photo["landmarks"], None, {"reproj_px": round(float(photo["reproj_px"].mean()), 1),
                                       "landmark_fit_kept": round(float(photo["from_landmarks"].mean()), 2)})
    if pipeline:
        from metahmr_video.app.config import Config, override

        plain = override(Config(), {"definitions.landmarks": []})
        for name, cfg in (("pipeline (run: tracker + temporal prior + smoother + landmark definitions)", None),
                          ("pipeline, the body's own hips and shoulders (no landmark definitions)", plain)):
            pipe = cached_arrays(split, f"pipeline_{_fit_key(fitter, 'meta')}_{_config_key(cfg)}",
                                 lambda cfg=cfg: {"landmarks": pipeline_row(split, checkpoint, progress=progress, config=cfg)},
                                 refresh)
            preds[name] = (pipe["landmarks"], None, {})
    res: dict = {"n": len(split), "views": [c.name for c in split.cams], "reference": split.ref.uncertainty(),
                 "rows": {}}
    base = None
    for name, (lm, joints, more) in preds.items():
        absolute = not name.startswith("MediaPipe world landmarks")
        row = split.score(lm, absolute=absolute)
        row["vs_all_view_reference"] = {k: v for k, v in split.score(lm, reference="all", absolute=absolute).items()
                                        if k in ("pa_mpjpe", "mpjpe")}
        if joints is not None:
            row["anny_joints"] = {k: v for k, v in split.score(joints15=joints).items() if k in ("pa_mpjpe", "mpjpe")}
        row.update(more)
        if base is None:
            base = row
        else:
            row["pa_minus_mediapipe"] = split.paired(row["_pa"], base["_pa"])
            row["mpjpe_minus_mediapipe"] = split.paired(row["_mp"], base["_mp"])
        res["rows"][name] = row
    for row in res["rows"].values():
        row.pop("_pa"), row.pop("_mp")
    if floor:
        fl = cached_arrays(split, "floor", lambda: floor_fit(body, split), refresh)
        res["floor"] = {name: {a: b for a, b in sc.items() if a in ("pa_mpjpe", "mpjpe", "pa_per_joint")} for name, sc in
                        (("landmarks", split.score(fl["landmarks"])), ("anny_joints", split.score(joints15=fl["joints"])))}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "realpix.json").write_text(json.dumps(res, indent=1))
    return res


def format_table(res: dict) -> str:
    """Markdown: one row per method (PA-MPJPE, MPJPE, PA difference to MediaPipe +- SE, pelvis
    position error, PA per view; mm), then the reference's uncertainty and the floor."""
    views = res["views"]
    lines = [f"real pixels (pose2sim Demo_SinglePerson, {len(views)} views, N={res['n']} person-frames), "
             "15 joints, mm; reference without the evaluated view",
             "| method | PA-MPJPE | MPJPE | PA - MediaPipe (+- SE) | pelvis position | "
             + " | ".join(f"PA {v}" for v in views) + " |",
             "|---" * (5 + len(views)) + "|"]
    for name, r in res["rows"].items():
        diff = r.get("pa_minus_mediapipe")
        d = "" if diff is None else f"{diff[0]:+.1f} +- {diff[1]:.1f}"
        cov = "" if r["coverage"] >= 0.999 else f" ({100 * r['coverage']:.0f}% of frames)"
        pelvis = f"{r['pelvis_position_mm']:.0f}" if "pelvis_position_mm" in r else ""
        lines.append(f"| {name}{cov} | {r['pa_mpjpe']:.1f} | {r['mpjpe']:.1f} | {d} | {pelvis} | "
                     + " | ".join(f"{r['per_view_pa_mp'].get(v, [np.nan])[0]:.1f}" for v in views) + " |")
    ref = res["reference"]
    lines.append(f"\nreference: leave-one-view-out vs all views {ref['loo_vs_all_mm_mean']} mm mean "
                 f"({ref['loo_vs_all_mm_median']} median); reprojection {ref['reprojection_px_mean']} px mean; "
                 f"segment length SD over frames {ref['segment_length_sd_over_frames_mm']} mm")
    if "floor" in res:
        fl = res["floor"]
        lines.append(f"floor (Anny fitted to the reference landmarks): PA/MPJPE {fl['landmarks']['pa_mpjpe']}/"
                     f"{fl['landmarks']['mpjpe']} mm with the shared joint rule, {fl['anny_joints']['pa_mpjpe']}/"
                     f"{fl['anny_joints']['mpjpe']} mm with Anny's own joints")
    return "\n".join(lines)
