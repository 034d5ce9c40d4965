"""Accuracy on rendered held-out shards: the real detector's output on rendered Anny bodies
(`metahmr_trainer.render_data`), scored against the rendered truth.

    python -m metahmr_trainer.eval_rendered ~/.cache/metahmr_video/rendered/heldout CK.pt [CK2.pt ...]

Rows: MediaPipe's world landmarks as they are; per checkpoint the plain regressor (no TTO) and
meta TTO at 0/5/20 steps. Every method's 33 landmarks go through the real-pixel split's joint
rule (`metahmr_trainer.realpix.joints`) and are compared with the same rule applied to the body's true
landmarks: PA-MPJPE and MPJPE (pelvis-aligned), mm, over all found samples, whole bodies
(neither truncated nor occluded) and truncated ones.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from metahmr_trainer.realpix.evaluate import joint_errors
from metahmr_trainer.realpix.joints import standard_from_landmarks
from metahmr_trainer.rendered import RenderedData


def score_groups(pred33: np.ndarray, data: RenderedData) -> dict[str, float]:
    """{'pa', 'pa_whole', 'pa_truncated', 'mpjpe'} mm for camera-frame landmarks [N,33,3]."""
    a = data.arrays
    gt = standard_from_landmarks(a["keypoints3d"]).astype(np.float64)
    mp, pa = joint_errors(standard_from_landmarks(np.asarray(pred33, np.float64)), gt)
    pa, mp = pa.mean(-1), mp.mean(-1)
    trunc = a["truncation"] > 0
    whole = ~trunc & (a["occluder"] == 0)
    return {"pa": float(np.nanmean(pa)), "pa_whole": float(np.nanmean(pa[whole])),
            "pa_truncated": float(np.nanmean(pa[trunc])), "mpjpe": float(np.nanmean(mp))}


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.adapt.fitter import Fitter

    p = argparse.ArgumentParser(prog="python -m metahmr_trainer.eval_rendered", description=__doc__.split("\n\n")[0])
    p.add_argument("shards", help="a folder of rendered shards (held out: a seed never trained on)")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--steps", default="0,5,20")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = RenderedData(args.shards)
    rows = {"MediaPipe world landmarks": score_groups(data.arrays["det_world"], data)}
    for ck in args.checkpoints:
        fitter = Fitter.load(ck)
        rows[f"{ck} no TTO (plain)"] = score_groups(fitter.fit_evidence(data.evidence, steps=0, start="plain").keypoints3d.numpy(), data)
        for k in (int(s) for s in args.steps.split(",")):
            r = fitter.fit_evidence(data.evidence, steps=k, start="meta")
            rows[f"{ck} meta @{k}"] = score_groups(r.keypoints3d.numpy(), data)
    print(f"| method (N = {len(data)}) | PA-MPJPE | whole | truncated | MPJPE |\n|---|---|---|---|---|")
    for name, s in rows.items():
        print(f"| {name} | {s['pa']:.1f} | {s['pa_whole']:.1f} | {s['pa_truncated']:.1f} | {s['mpjpe']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
