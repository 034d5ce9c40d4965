"""People cut off by the frame: errors on the joints inside the image, by framing.

    python -m metahmr_trainer.truncation [--checkpoint CK] [--n 150] [--steps 5] [--rendered DIR]
    metahmr-video evaluate --splits truncation [--truncation-n 150]   (the default step count)

Two splits:
- synthetic: n bodies drawn as `metahmr_trainer.data.fixed_split` draws them (fixed seed), each seen whole
  and cut by the frame's bottom edge at the chest, waist, hips and knees (`SyntheticData.observe`
  with `cuts`, the detector-like guesses outside the image); the same poses and shapes in every
  framing (bodies not upright enough for some cut are left out), so the groups are paired;
- rendered: the real detector on rendered bodies (held-out shards of `metahmr_trainer.render_data`), grouped
  by their framing (none, chest, waist, hips, knees, portrait).
Per person, on the 15 standard joints whose true projection lies inside the image (at least 4):
MPJPE after aligning the centroids of those joints, PA-MPJPE on them (mm), and the depth error of
their centroid in % of its true depth (signed: + = placed too far, too small).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from metahmr_video.core.camera import project

log = logging.getLogger("metahmr_trainer.truncation")
SPLIT_SEED = 2_000_012_012
DEFAULT_RENDERED = Path("~/.cache/metahmr_video/rendered/heldout")


def visible_errors(pred: torch.Tensor, gt: torch.Tensor, focal: torch.Tensor, img_size: torch.Tensor,
                   min_joints: int = 4) -> dict[str, torch.Tensor]:
    """Per-person errors [N] on the joints inside the image (NaN with fewer than `min_joints`).

    pred, gt [N,K,3] camera-frame metres; focal [N] pixels; img_size [N,2] (width, height) pixels.
    Returns mpjpe and pa_mpjpe (mm) and depth (%, signed), and n_inside [N].
    """
    from metahmr_trainer.metrics import pa_errors

    px = project(gt, focal, img_size / 2)
    inside = ((px >= 0) & (px <= img_size[:, None])).all(-1)
    out = {k: torch.full((len(gt),), float("nan")) for k in ("mpjpe", "pa_mpjpe", "depth")}
    for i in range(len(gt)):
        m = inside[i]
        if int(m.sum()) < min_joints:
            continue
        p, g = pred[i, m], gt[i, m]
        pc, gc = p.mean(0), g.mean(0)
        out["mpjpe"][i] = ((p - pc) - (g - gc)).norm(dim=-1).mean() * 1000
        out["pa_mpjpe"][i] = pa_errors(p[None], g[None])[0].mean() * 1000
        out["depth"][i] = (pc[2] / gc[2] - 1) * 100
    out["n_inside"] = inside.sum(-1)
    return out


def synthetic_split(body, n: int, seed: int = SPLIT_SEED):
    """(Evidence, Target, framing codes into `metahmr_trainer.data.CUTS`) for n bodies in every framing,
    concatenated framing by framing; bodies that some cut cannot frame are dropped everywhere."""
    from metahmr_trainer.data import CUTS, SyntheticData
    from metahmr_trainer.rendered import cat_evidence, cat_target

    from metahmr_video.core.rotations import axis_angle_to_rotmat
    from metahmr_trainer.prior import sample_global_orientation

    g = torch.Generator().manual_seed(seed)
    data = SyntheticData(body)
    pose = axis_angle_to_rotmat(data.prior.sample(n, g))
    shape = 0.1 + 0.8 * torch.rand(n, 6, generator=g)
    shape[:, 1] = 0.4 + 0.55 * torch.rand(n, generator=g)
    pose[:, 0] = axis_angle_to_rotmat(sample_global_orientation(n, g))
    views = [data.observe(pose, shape, torch.Generator().manual_seed(seed + 1 + k),
                          cuts=torch.full((n,), k, dtype=torch.long)) for k in range(len(CUTS))]
    keep = torch.stack([codes == k for k, (_, _, codes) in enumerate(views)]).all(0)
    ev = cat_evidence([v[0].index(keep) for v in views])
    tg = cat_target([v[1].index(keep) for v in views])
    codes = torch.cat([v[2][keep] for v in views])
    return ev, tg, codes


def rendered_split(path: str | Path):
    """(Evidence, Target, framing codes, framing names) of the found samples of rendered shards."""
    from metahmr_trainer.rendered import RenderedData

    data = RenderedData(path)
    return (data.evidence, data.target, torch.from_numpy(data.arrays["truncation"]).long(),
            tuple(str(v) for v in data.arrays["truncations"]))


def fit_joints(fitter, ev, steps: list[int], start: str = "meta") -> dict[int, torch.Tensor]:
    """Standard joints [N,15,3] (camera frame) after each of `steps` TTO steps."""
    got: dict[int, list[torch.Tensor]] = {}
    want = set(steps)

    def cb(s, joints):
        if s in want:
            got.setdefault(s, []).append(joints[:, fitter.body.standard_joint_indices].cpu())
    fitter.fit_evidence(ev, steps=max(steps), start=start, callback=cb)
    return {s: torch.cat(v) for s, v in got.items()}


def group_table(err: dict[str, torch.Tensor], codes: torch.Tensor, names: tuple[str, ...]) -> dict:
    """Per framing: n, mean MPJPE / PA-MPJPE on the visible joints, median signed and absolute depth
    error (%), and each error's ratio to the whole-body ('none') group."""
    rows = {}
    for k, name in enumerate(names):
        sel = (codes == k) & torch.isfinite(err["mpjpe"])
        if not bool(sel.any()):
            continue
        rows[name] = {"n": int(sel.sum()), "mpjpe": round(err["mpjpe"][sel].mean().item(), 1),
                      "pa_mpjpe": round(err["pa_mpjpe"][sel].mean().item(), 1),
                      "depth_median": round(err["depth"][sel].median().item(), 1),
                      "depth_abs_median": round(err["depth"][sel].abs().median().item(), 1)}
    if "none" in rows:
        for r in rows.values():
            r["mpjpe_ratio"] = round(r["mpjpe"] / rows["none"]["mpjpe"], 3)
            r["pa_ratio"] = round(r["pa_mpjpe"] / rows["none"]["pa_mpjpe"], 3)
    return rows


def evaluate_truncation(fitter, n: int = 150, steps: int = 5, rendered: str | Path | None = DEFAULT_RENDERED) -> dict:
    """{split: {"step K": group_table}} for the synthetic split and (if its shards exist) the rendered one."""
    from metahmr_trainer.data import CUTS

    splits = {"synthetic": (*synthetic_split(fitter.body, n), CUTS)}
    if rendered is not None and Path(rendered).expanduser().is_dir():
        splits["rendered"] = rendered_split(rendered)
    res = {}
    for name, (ev, tg, codes, names) in splits.items():
        log.info("truncation split %s: %d people", name, len(ev))
        joints = fit_joints(fitter, ev, sorted({0, steps}))
        gt = tg.joints[:, fitter.body.standard_joint_indices]
        size = ev.img_center * 2
        res[name] = {f"step {s}": group_table(visible_errors(j, gt, ev.focal, size), codes, names)
                     for s, j in joints.items()}
    return res


def format_table(res: dict) -> str:
    lines = []
    for split, by_step in res.items():
        for step, rows in by_step.items():
            lines += [f"\n{split}, {step}: joints inside the image",
                      "| framing | n | MPJPE mm (x none) | PA-MPJPE mm (x none) | depth error median / abs % |",
                      "|---|---|---|---|---|"]
            lines += [f"| {k} | {r['n']} | {r['mpjpe']} ({r.get('mpjpe_ratio', '')}) | {r['pa_mpjpe']} "
                      f"({r.get('pa_ratio', '')}) | {r['depth_median']:+.1f} / {r['depth_abs_median']:.1f} |"
                      for k, r in rows.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from metahmr_video.adapt import Fitter

    ap = argparse.ArgumentParser(prog="python -m metahmr_trainer.truncation", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="default: the shipped checkpoint")
    ap.add_argument("--n", type=int, default=150, help="bodies in the synthetic split (each in 5 framings)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rendered", default=str(DEFAULT_RENDERED), help="held-out rendered shards ('' = none)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    res = evaluate_truncation(Fitter.load(args.checkpoint), args.n, args.steps, args.rendered or None)
    print(format_table(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
