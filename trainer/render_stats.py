"""How the real detector errs on rendered bodies: statistics of rendered shards (`metahmr_trainer.render_data`).

    python -m metahmr_trainer.render_stats ~/.cache/metahmr_video/rendered/heldout [--json out.json]

Per group of samples (all, then by look, truncation, occluder, detection source and the body's
height in the image):
- detection rate (any source; full-frame detection alone);
- the detector's 2D error, pooled over the landmarks inside the image, in % of the body's height
  (the larger side of the box of its 33 true projected landmarks): median and mean; the share of
  detections whose mean error exceeds 10%;
- PA-MPJPE (mm) of MediaPipe's world landmarks on the 15 standard joints (`metahmr_trainer.realpix.joints.standard_from_landmarks`:
  pelvis = mid-hips, neck = mid-shoulders, head = mid-ears, limb joints as they are), median and
  mean, against (a) the fitting body's own 15 joints (`truth`) and (b) the same mapping of the
  body's true 33 landmarks (`like`: no joint-definition difference);
- left/right swaps: the detection's 12 limb landmarks (shoulders to ankles) lie closer to the
  truth with left and right exchanged, and are off by more than 5% of the height as labelled.
`--details` adds the 2D error by the detector's confidence and by the render's visibility, and the
world landmarks' error per joint.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from metahmr_video.core.layout import MEDIAPIPE_33, mirror_index
from metahmr_trainer.realpix.joints import standard_from_landmarks

LIMBS = list(range(11, 17)) + list(range(23, 29))


def body_height(kp2d: np.ndarray) -> np.ndarray:
    """[N] pixels: the larger side of the box of the 33 true projected landmarks [N,33,2]."""
    return (kp2d.max(1) - kp2d.min(1)).max(-1)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-sample PA-MPJPE in mm of [N,15,3] joints (metres)."""
    from metahmr_trainer.evaluate import joint_errors

    return joint_errors(torch.from_numpy(pred).float(), torch.from_numpy(gt).float())[1].numpy()


def sample_errors(a: dict[str, np.ndarray], standard_joint_indices: list[int]) -> dict[str, np.ndarray]:
    """Per-sample error measures of found samples (NaN where not found)."""
    found = a["found"].astype(bool)
    n = len(found)
    kp = a["kp2d"]
    height = body_height(kp)
    d2 = np.linalg.norm(a["det_kp2d"] - kp, axis=-1) / height[:, None] * 100       # [N,33] % of height
    d2 = np.where(a["inside"], d2, np.nan)
    mirror = mirror_index(MEDIAPIPE_33)
    lab = np.linalg.norm(a["det_kp2d"][:, LIMBS] - kp[:, LIMBS], axis=-1).mean(-1) / height * 100
    swp = np.linalg.norm(a["det_kp2d"][:, mirror][:, LIMBS] - kp[:, LIMBS], axis=-1).mean(-1) / height * 100
    out = {"err2d": d2, "swap": (swp < lab) & (lab > 5.0), "pa_truth": np.full(n, np.nan), "pa_like": np.full(n, np.nan)}
    if found.any():
        w = standard_from_landmarks(a["det_world"][found])
        out["pa_truth"][found] = pa_mpjpe(w, a["joints"][found][:, standard_joint_indices])
        out["pa_like"][found] = pa_mpjpe(w, standard_from_landmarks(a["keypoints3d"][found]))
    return out


def summarise(a: dict[str, np.ndarray], e: dict[str, np.ndarray], sel: np.ndarray) -> dict:
    """The statistics of the module docstring for the samples `sel` [N] bool."""
    found = a["found"].astype(bool) & sel
    full = found & (a["source"] == list(a["sources"]).index("full"))
    d2 = e["err2d"][found]
    pooled = d2[np.isfinite(d2)]
    per_det = np.nanmean(d2, axis=1) if len(d2) else np.zeros(0)
    r = lambda x: round(float(x), 1)  # noqa: E731
    s = {"n": int(sel.sum()), "found": r(100 * found.sum() / max(1, sel.sum())),
         "found_full": r(100 * full.sum() / max(1, sel.sum()))}
    if found.any():
        s.update(err2d_median=r(np.median(pooled)), err2d_mean=r(pooled.mean()), off10=r(100 * (per_det > 10).mean()),
                 pa_median=r(np.median(e["pa_truth"][found])), pa_mean=r(e["pa_truth"][found].mean()),
                 pa_like_median=r(np.median(e["pa_like"][found])), pa_like_mean=r(e["pa_like"][found].mean()),
                 swap=r(100 * e["swap"][found].mean()))
    return s


def report(a: dict[str, np.ndarray], standard_joint_indices: list[int]) -> dict[str, dict]:
    """{group name: statistics} for all samples and by look, truncation, occluder, source."""
    e = sample_errors(a, standard_joint_indices)
    groups = {"all": np.ones(len(a["found"]), bool)}
    for key, names in (("look", "looks"), ("truncation", "truncations"), ("occluder", "occluders"),
                       ("source", "sources")):
        for code, name in enumerate(a[names]):
            sel = a[key] == code
            if sel.any():
                groups[f"{key}={name}"] = sel
    groups["truncated (any)"] = a["truncation"] > 0
    height = body_height(a["kp2d"])
    for lo, hi in ((0, 150), (150, 300), (300, 600), (600, np.inf)):
        groups[f"height {lo}-{hi} px"] = (height >= lo) & (height < hi)
    groups["as the FACTS probe (whole, unoccluded, 190-400 px)"] = (
        (a["truncation"] == 0) & (a["occluder"] == 0) & (height >= 190) & (height <= 400))
    return {g: summarise(a, e, sel) for g, sel in groups.items()}


def details(a: dict[str, np.ndarray], standard_joint_indices: list[int]) -> dict[str, dict]:
    """Found samples: the 2D error (% of height, in-image landmarks) by the product's confidence
    (visibility x presence) and by render visibility; the world landmarks' error per standard joint
    after Procrustes (mean mm); the detector's mean visibility / presence by truth."""
    from metahmr_video.core.layout import STANDARD_JOINTS
    from metahmr_trainer.metrics import pa_errors

    f = a["found"].astype(bool)
    e = sample_errors({k: (v if v.dtype.kind == "U" else v[f]) for k, v in a.items()}, standard_joint_indices)
    err, ins, conf = e["err2d"], a["inside"][f], a["det_conf"][f]
    r = lambda x: round(float(x), 1)  # noqa: E731
    out = {"err2d_by_conf": {}, "err2d_by_render_visibility": {}}
    for lo, hi in ((0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.01)):
        sel = ins & (conf >= lo) & (conf < hi)
        out["err2d_by_conf"][f"{lo}-{min(hi, 1.0)}"] = {"share": r(100 * sel.sum() / ins.sum()),
                                                         "median": r(np.median(err[sel])), "mean": r(err[sel].mean())}
    for name, sel in (("visible", ins & a["visible"][f]), ("hidden by the body", ins & ~a["visible"][f] & ~a["occluded"][f]),
                      ("under the occluder", ins & a["occluded"][f])):
        if sel.any():
            out["err2d_by_render_visibility"][name] = {"median": r(np.median(err[sel])), "mean": r(err[sel].mean()),
                                                       "det_visibility": round(float(a["det_vis"][f][sel].mean()), 2)}
    out["det_presence"] = {"inside": round(float(a["det_pres"][f][ins].mean()), 2),
                           "outside": round(float(a["det_pres"][f][~ins].mean()), 2)}
    w = torch.from_numpy(standard_from_landmarks(a["det_world"][f])).float()
    gt = torch.from_numpy(a["joints"][f][:, standard_joint_indices]).float()
    per_joint = pa_errors(w, gt).mean(0) * 1000
    out["world_error_per_joint_mm"] = {n: round(float(v)) for n, v in zip(STANDARD_JOINTS, per_joint)}
    return out


def format_table(stats: dict[str, dict]) -> str:
    cols = ["n", "found", "found_full", "err2d_median", "err2d_mean", "off10", "pa_median", "pa_mean",
            "pa_like_median", "pa_like_mean", "swap"]
    head = ("| group | n | found % | full-frame % | 2D med % | 2D mean % | >10% | PA med | PA mean "
            "| PA like med | PA like mean | L/R swap % |")
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for g, s in stats.items():
        lines.append(f"| {g} | " + " | ".join(str(s.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.core.errors import MetaHMRError
    from metahmr_trainer.rendered import load_shards

    p = argparse.ArgumentParser(prog="python -m metahmr_trainer.render_stats", description=__doc__.split("\n\n")[0])
    p.add_argument("shards", help="a folder of shards or one shard file")
    p.add_argument("--json", help="also write the statistics here")
    p.add_argument("--details", action="store_true",
                   help="also print 2D error by confidence and visibility, and world-landmark error per joint")
    args = p.parse_args(argv)
    try:
        a = load_shards(args.shards)
    except MetaHMRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from metahmr_video.body import AnnyBody

    joints = AnnyBody().standard_joint_indices
    stats = report(a, joints)
    print(format_table(stats))
    if args.details:
        stats["details"] = details(a, joints)
        print(json.dumps(stats["details"], indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(stats, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
