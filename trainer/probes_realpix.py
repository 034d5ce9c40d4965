"""Probes behind the real-pixel experiments of docs/experiments.md (issue 12), one sub-command each.

    python -m metahmr_trainer.probes_realpix offsets TRAIN_SHARDS HELDOUT_SHARDS CK [--out offsets.pt]
    python -m metahmr_trainer.probes_realpix blend CK
    python -m metahmr_trainer.probes_realpix worldterm CK --weights 0,1,3,10
    python -m metahmr_trainer.probes_realpix bias CK [--steps 5] [--render-offsets TRAIN_SHARDS]

offsets: the detector's systematic landmark offsets. For every MediaPipe landmark, a constant
3-vector d (metres, in the body's root frame) such that the true landmark + R_root d best explains
the detector's 2D landmarks on rendered bodies (linearised least squares over visible,
non-outlier landmarks of whole bodies in TRAIN_SHARDS); reports the held-out 2D residual (% of
body height) before/after, then the real-pixel PA-MPJPE of CK's meta fit at 0 and 5 steps with the
offsets added to its landmarks.
blend: the real-pixel PA-MPJPE of a blend a * ours + (1 - a) * MediaPipe's world landmarks (ours
similarity-aligned onto MediaPipe's first): how much of the two methods' errors is independent.
worldterm: the real-pixel PA-MPJPE (inputs with the tracker's label-flip fix) when the test loss
also has the world-landmark term (`LossConfig.w_world` = w; losses.loss_world), with CK's learned
step sizes (CK trained without the term, or with it).
bias: a diagnosis, not a method (it looks at the reference): how much of a method's PA-MPJPE is a
constant per-joint offset in the body's frame (pelvis origin, x from right to left hip, y up the
spine), for MediaPipe's world landmarks (labels fixed) and CK's meta fit: the score with each
joint's mean residual removed, the offsets, and segment lengths against the reference's. With
--render-offsets: MediaPipe's world landmarks on rendered whole bodies against the true landmarks
(similarity-aligned on the body landmarks; median residual per landmark in the root frame), added
to CK's landmarks: the score with MediaPipe's landmark definitions as seen on renders.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch


def _whole_found(path) -> dict[str, np.ndarray]:
    from metahmr_trainer.rendered import load_shards

    a = load_shards(path)
    keep = a["found"].astype(bool) & (a["truncation"] == 0) & (a["occluder"] == 0)
    return {k: v[keep] for k, v in a.items() if v.dtype.kind != "U"}


def _residuals(body, a: dict[str, np.ndarray]):
    """Detector-minus-truth 2D residuals [N,33,2] px, usable mask [N,33], d(uv)/d(root-frame
    offset) [N,33,2,3], body height [N] px."""
    t = lambda k: torch.from_numpy(np.ascontiguousarray(a[k])).float()  # noqa: E731
    with torch.no_grad():
        x = body(t("pose"), shape=t("shape"), transl=t("transl"), return_vertices=False).keypoints
    f, c, z = t("focal")[:, None], t("image_size")[:, None] / 2, x[..., 2]
    uv = f[..., None] * x[..., :2] / z[..., None] + c
    r = t("det_kp2d") - uv
    h = uv[..., 1].max(1).values - uv[..., 1].min(1).values
    ok = (t("visible") > 0) & (t("det_vis") > 0.5) & (r.norm(dim=-1) < 0.1 * h[:, None])
    jac = torch.zeros(*x.shape[:2], 2, 3)
    jac[..., 0, 0] = jac[..., 1, 1] = f / z
    jac[..., 0, 2], jac[..., 1, 2] = -f * x[..., 0] / z ** 2, -f * x[..., 1] / z ** 2
    return r, ok, jac @ t("pose")[:, 0, None], h


def offsets(body, train, heldout) -> torch.Tensor:
    r, ok, jr, _ = _residuals(body, _whole_found(train))
    d = torch.zeros(33, 3)
    for k in range(33):
        m = ok[:, k]
        d[k] = torch.linalg.lstsq(jr[m, k].reshape(-1, 3), r[m, k].reshape(-1, 1)).solution[:, 0]
    r, ok, jr, h = _residuals(body, _whole_found(heldout))
    before = (r.norm(dim=-1) / h[:, None])[ok]
    after = ((r - (jr @ d[None, :, :, None])[..., 0]).norm(dim=-1) / h[:, None])[ok]
    print(f"held-out 2D residual, % of body height: mean {100 * before.mean():.2f} -> {100 * after.mean():.2f}, "
          f"median {100 * before.median():.2f} -> {100 * after.median():.2f}")
    return d


def world_offsets(path) -> torch.Tensor:
    """[33,3] metres, root frame: median of MediaPipe's world landmarks (similarity-aligned onto the
    true landmarks on shoulders..feet, nose, ears) minus the true landmarks, on rendered whole bodies
    (residuals over 25 cm left out)."""
    import roma

    a = _whole_found(path)
    t = lambda k: torch.as_tensor(a[k], dtype=torch.float64)  # noqa: E731
    kp, w, root = t("keypoints3d"), t("det_world"), t("pose")[:, 0]
    sel = list(range(11, 33)) + [0, 7, 8]
    rot, tr, scale = roma.rigid_points_registration(w[:, sel], kp[:, sel], compute_scaling=True)
    res = scale[:, None, None] * w @ rot.transpose(1, 2) + tr[:, None] - kp
    local = torch.where((res.norm(dim=-1) < 0.25)[..., None], res @ root, torch.nan)
    return local.nanmedian(0).values.float()


def constant_offsets(split, landmarks) -> dict:
    """PA-MPJPE (mm) of [S,33,3] landmarks on the real-pixel split, and again with each standard
    joint's mean residual in the reference body's frame removed; the offsets (mm, x left, y up,
    z forward); mean segment lengths (mm) against the reference's."""
    from metahmr_trainer.metrics import similarity_align
    from metahmr_trainer.realpix.joints import standard_from_landmarks

    pred = torch.as_tensor(standard_from_landmarks(landmarks), dtype=torch.float64)
    gt = torch.as_tensor(split.gt, dtype=torch.float64)
    aligned = similarity_align(pred, gt)
    x = gt[:, 1] - gt[:, 2]  # right hip -> left hip
    x = x / x.norm(dim=-1, keepdim=True)
    z = torch.cross(x, gt[:, 7] - gt[:, 0], dim=-1)
    z = z / z.norm(dim=-1, keepdim=True)
    frame = torch.stack([x, torch.cross(z, x, dim=-1), z], -1)  # columns: x, y (up the spine), z
    bias = ((aligned - gt) @ frame).mean(0)
    removed = aligned - bias[None] @ frame.transpose(1, 2)

    def length(a, i: int, j: int) -> float:
        return round(float(np.linalg.norm(a[:, i] - a[:, j], axis=-1).mean() * 1000))
    segments = {"torso (shoulder-hip)": (11, 23), "thigh": (23, 25), "shin": (25, 27), "upper arm": (11, 13)}
    return {"pa_mpjpe": round(float((aligned - gt).norm(dim=-1).mean() * 1000), 1),
            "without_constant_offsets": round(float((removed - gt).norm(dim=-1).mean() * 1000), 1),
            "offsets_mm": (bias * 1000).round().int().tolist(),
            "segments_mm (method / reference)": {k: (length(landmarks, *ij), length(split.gt_landmarks, *ij))
                                                 for k, ij in segments.items()}}


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.adapt.fitter import Fitter
    from metahmr_trainer.realpix import load_split
    from metahmr_trainer.realpix.joints import standard_from_landmarks

    p = argparse.ArgumentParser(prog="python -m metahmr_trainer.probes_realpix", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="probe", required=True)
    o = sub.add_parser("offsets")
    o.add_argument("train")
    o.add_argument("heldout")
    o.add_argument("checkpoint")
    o.add_argument("--out")
    sub.add_parser("blend").add_argument("checkpoint")
    w = sub.add_parser("worldterm")
    w.add_argument("checkpoint")
    w.add_argument("--weights", default="0,1,3,10")
    b = sub.add_parser("bias")
    b.add_argument("checkpoint")
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--render-offsets", help="rendered shards to learn MediaPipe's world-landmark offsets from")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    fitter = Fitter.load(args.checkpoint)
    split = load_split(progress=False)
    ev = split.evidence()
    if args.probe == "offsets":
        d = offsets(fitter.body, args.train, args.heldout)
        if args.out:
            torch.save(d, args.out)
        for k in (0, 5):
            r = fitter.fit_evidence(ev, steps=k, start="meta")
            shifted = r.keypoints3d + (r.pose[:, 0] @ d.T).transpose(1, 2)
            print(f"meta @{k}: PA-MPJPE {split.score(landmarks=r.keypoints3d.numpy())['pa_mpjpe']} -> "
                  f"{split.score(landmarks=shifted.numpy())['pa_mpjpe']} with the offsets")
    elif args.probe == "blend":
        from metahmr_trainer.metrics import similarity_align

        mp = torch.as_tensor(standard_from_landmarks(split.world), dtype=torch.float64)
        for k in (0, 5):
            ours = torch.as_tensor(standard_from_landmarks(fitter.fit_evidence(ev, steps=k, start="meta").keypoints3d.numpy()),
                                   dtype=torch.float64)
            aligned = similarity_align(ours, mp)
            for a in (0.0, 0.3, 0.5, 0.7, 1.0):
                s = split.score(joints15=(a * aligned + (1 - a) * mp).numpy())
                print(f"meta @{k}, a = {a}: PA-MPJPE {s['pa_mpjpe']}")
    elif args.probe == "bias":
        fixed = split.facing_fixed()
        ours = fitter.fit_evidence(fixed.evidence(), steps=args.steps, start="meta").keypoints3d.numpy()
        for name, lm in (("MediaPipe world, labels fixed", fixed.world), (f"meta @{args.steps}", ours)):
            print(name, constant_offsets(split, lm))
        if args.render_offsets:
            r = fitter.fit_evidence(fixed.evidence(), steps=args.steps, start="meta")
            d = world_offsets(args.render_offsets)
            shifted = r.keypoints3d + (r.pose[:, 0] @ d.T).transpose(1, 2)
            print(f"meta @{args.steps} with MediaPipe's offsets on renders: PA-MPJPE "
                  f"{split.score(landmarks=shifted.numpy())['pa_mpjpe']} (without: {split.score(landmarks=ours)['pa_mpjpe']})")
    else:
        from dataclasses import replace

        fixed = split.facing_fixed()
        ev, base = fixed.evidence(), fitter.ckpt.loss_config
        for wv in (float(x) for x in args.weights.split(",")):
            fitter.ckpt.loss_config = replace(base, w_world=wv)
            for k in (2, 5, 20):
                s = split.score(landmarks=fitter.fit_evidence(ev, steps=k, start="meta").keypoints3d.numpy())
                print(f"w = {wv}, meta @{k}: PA-MPJPE {s['pa_mpjpe']}, MPJPE {s['mpjpe']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
