"""Probes behind the real-pixel experiments of docs/experiments.md (issue 12), one sub-command each.

    python -m trainer.probes_realpix offsets TRAIN_SHARDS HELDOUT_SHARDS CK [--out offsets.pt]
    python -m trainer.probes_realpix blend CK
    python -m trainer.probes_realpix worldterm CK --weights 0,1,3,10

offsets: the detector's systematic landmark offsets. For every MediaPipe landmark, a constant
3-vector d (metres, in the body's root frame) such that the true landmark + R_root d best explains
the detector's 2D landmarks on rendered bodies (linearised least squares over visible,
non-outlier landmarks of whole bodies in TRAIN_SHARDS); reports the held-out 2D residual (% of
body height) before/after, then the real-pixel PA-MPJPE of CK's meta fit at 0 and 5 steps with the
offsets added to its landmarks.
blend: the real-pixel PA-MPJPE of a blend a * ours + (1 - a) * MediaPipe's world landmarks (ours
similarity-aligned onto MediaPipe's first): how much of the two methods' errors is independent.
worldterm: the real-pixel PA-MPJPE when the test loss also pulls the hip-centred landmarks towards
MediaPipe's world landmarks (robust, visibility-weighted, weight w), with CK's learned step sizes.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch


def _whole_found(path) -> dict[str, np.ndarray]:
    from trainer.rendered import load_shards

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


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.adapt.fitter import Fitter
    from trainer.realpix import load_split
    from trainer.realpix.joints import standard_from_landmarks

    p = argparse.ArgumentParser(prog="python -m trainer.probes_realpix", description=__doc__.split("\n\n")[0])
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
        import roma

        mp = torch.as_tensor(standard_from_landmarks(split.world), dtype=torch.float64)
        for k in (0, 5):
            ours = torch.as_tensor(standard_from_landmarks(fitter.fit_evidence(ev, steps=k, start="meta").keypoints3d.numpy()),
                                   dtype=torch.float64)
            rot, tr, sc = roma.rigid_points_registration(ours, mp, compute_scaling=True)
            aligned = sc[:, None, None] * ours @ rot.transpose(1, 2) + tr[:, None]
            for a in (0.0, 0.3, 0.5, 0.7, 1.0):
                s = split.score(joints15=(a * aligned + (1 - a) * mp).numpy())
                print(f"meta @{k}, a = {a}: PA-MPJPE {s['pa_mpjpe']}")
    else:
        import metahmr_video.adapt.steps as steps

        base, weight = steps.test_loss, {"w": 0.0}

        def with_world(params, out, e, cfg, pseudo=None):
            loss = base(params, out, e, cfg, pseudo)
            kp = out.keypoints
            d2 = ((kp - 0.5 * (kp[:, 23:24] + kp[:, 24:25])) - e.world).pow(2).sum(-1)
            v = e.world_vis * e.has_world[:, None]
            rho = 0.01 * torch.log1p(d2 / 0.01)
            return loss + weight["w"] * (v * rho).sum(-1) / v.sum(-1).clamp(min=1e-3)

        steps.test_loss = with_world
        for wv in (float(x) for x in args.weights.split(",")):
            weight["w"] = wv
            for k in (5, 20):
                s = split.score(landmarks=fitter.fit_evidence(ev, steps=k, start="meta").keypoints3d.numpy())
                print(f"w = {wv}, meta @{k}: PA-MPJPE {s['pa_mpjpe']}, MPJPE {s['mpjpe']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
