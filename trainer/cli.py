"""`metahmr-video train` and `metahmr-video evaluate` (registered by metahmr_video.app.cli via add_commands).

The shipped checkpoint is reproduced by:
    metahmr-video train --out metahmr_video/checkpoints/anny_meta.pt
(stage "all": plain regressor, EFT-lr selection on generated data, then the single-network
meta-trainer with learned last-layer step sizes; `--dual` adds the auxiliary network; see
docs/method.md and docs/experiments.md).

The same recipe for a user's SMPL / SMPL-X model file, written where `run --body FILE` looks for it
(`metahmr_video.model.checkpoint.default_checkpoint`):
    metahmr-video train --body SMPL_NEUTRAL.pkl
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from metahmr_video.core.errors import InputError, MetaHMRError

log = logging.getLogger("metahmr_video.trainer")

SHIPPED_RECIPE = dict(plain_iterations=6000, meta_iterations=3000, batch_plain=64, batch_meta=32)
ANNY_OUT = "metahmr_video/checkpoints/anny_meta.pt"


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v]
    except ValueError as exc:
        raise InputError(f"expected comma-separated numbers, got {text!r}") from exc


def select_eft_lr(ckpt_path: Path, lrs: list[float], steps: int = 20, n: int = 192, device: str = "cpu",
                  body=None) -> tuple[float, dict]:
    """Pick EFT's lr on a generated validation split (a seed no training batch uses; never the evaluation clips):
    the lr with the lowest PA-MPJPE at its best step <= steps. body: the checkpoint's body model (None: Anny)."""
    from metahmr_trainer.evaluate import build_cases, curve
    from metahmr_video.adapt import Fitter
    from metahmr_video.model.checkpoint import Checkpoint

    ck = Checkpoint.load(ckpt_path, device)
    fitter = Fitter(ck, device, body=body)
    ev, gt = build_cases(fitter.body, "synthetic", n, Path("."), seed=2_000_004_242)  # outside every training seed and the evaluation seed
    table = {}
    for lr in lrs:
        fitter.ckpt.eft_lr = lr
        r = curve(fitter, ev.to(device), gt.to(device), "plain", steps)
        table[lr] = min(r["pa_mpjpe"])
        log.info("EFT lr %.0e: PA-MPJPE best %.2f mm (step 0 %.2f)", lr, table[lr], r["pa_mpjpe"][0])
    best = min(table, key=table.get)
    return best, table


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from metahmr_video.body import load_body
    from metahmr_video.model.checkpoint import default_checkpoint
    from metahmr_trainer.train import TrainConfig, Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    body = load_body(args.body)
    out = Path(args.out) if args.out else (default_checkpoint(body) if args.body != "anny" else Path(ANNY_OUT))
    work = Path(args.work_dir) if args.work_dir else out.parent / (out.stem + "_work")
    model = {"encoder_width": args.width, "head_width": args.head_width}
    data = {"data": args.data, "rendered_fraction": args.rendered_fraction, "rendered_mirror": args.rendered_mirror,
            "truncated": args.truncated, "online": args.online}
    t0 = time.time()
    plain_path = Path(args.init) if args.init else work / "plain.pt"
    if args.stage in ("plain", "all") and not args.init:
        cfg = TrainConfig(mode="plain", iterations=args.plain_iterations, batch=args.batch_plain, lr=1e-3,
                          seed=args.seed, threads=args.threads, model=model, save_every=500, **data)
        Trainer(cfg, plain_path if args.stage == "all" else out, device=args.device, body=body).run(resume=not args.restart)
        if args.stage == "plain":
            log.info("plain regressor written to %s (%.0f s)", out, time.time() - t0)
            return 0
    if not plain_path.is_file():
        raise InputError(f"meta-training starts from a plain checkpoint; not found: {plain_path} (use --init)")
    eft_lr = args.eft_lr
    if eft_lr is None:
        eft_lr, table = select_eft_lr(plain_path, _floats(args.eft_lrs), device=args.device, body=body)
        log.info("EFT lr selected on generated validation data: %g (%s)", eft_lr, table)
    cfg = TrainConfig(mode="meta", iterations=args.meta_iterations, batch=args.batch_meta, lr=args.meta_lr,
                      inner_steps=args.inner_steps, inner_lr=args.inner_lr, learned_rates=not args.fixed_lr,
                      rates_scope=args.rates_scope, lr_rates=args.rates_lr, rates_clamp=args.rates_clamp, second_order=args.second_order, dual=args.dual and not args.no_dual,
                      w_pseudo=args.w_pseudo, w_world=args.w_world, w_step0=args.w_step0, default_steps=args.default_steps,
                      eft_lr=eft_lr, init=str(plain_path), seed=args.seed + 1, threads=args.threads, **data)
    Trainer(cfg, out, device=args.device, body=body).run(resume=not args.restart)
    log.info("meta checkpoint written to %s (total %.0f s)", out, time.time() - t0)
    return 0


def train_for_body(body_file: str | Path, out: str | Path, threads: int = 2, device: str = "cpu") -> int:
    """Train the shipped recipe for an SMPL/SMPL-X model file into `out`: exactly what
    `metahmr-video train --body FILE --out OUT` does (resumes a run that was interrupted)."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    return cmd_train(parser.parse_args(["train", "--body", str(body_file), "--out", str(out),
                                        "--threads", str(threads), "--device", device]))


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from metahmr_video.adapt import Fitter
    from metahmr_video.body import load_body
    from metahmr_trainer.evaluate import evaluate, format_table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    splits = args.splits.split(",")
    if "people" in splits:
        from metahmr_trainer.people.evaluate import evaluate_command as people_command

        splits.remove("people")
        people_command(args)
        if not splits:
            return 0
    if "hardpix" in splits:
        from metahmr_video.app.config import Config, override
        from metahmr_trainer.hardpix import DEFAULT_CACHE as HARDPIX_CACHE
        from metahmr_trainer.hardpix import evaluate_hardpix
        from metahmr_trainer.hardpix import format_table as hardpix_table
        from metahmr_trainer.hardpix import write_results as write_hardpix

        splits.remove("hardpix")
        torch.set_num_threads(args.threads)
        config = override(Config(), {"adapt.checkpoint": None if args.checkpoint is None else str(args.checkpoint)})
        res = evaluate_hardpix(HARDPIX_CACHE, Path(args.out_dir), config)
        print(hardpix_table(res["summary"]))
        print(f"\nwrote {write_hardpix(res, Path(args.out_dir))}")
        if not splits:
            return 0
    torch.set_num_threads(args.threads)
    ours = Fitter.load(args.checkpoint, args.device, body=None if args.body == "anny" else load_body(args.body))
    methods = {} if args.no_baselines else {"no TTO": (ours, "plain", 0), "EFT": (ours, "plain", args.steps)}
    if args.single:
        methods["single-network meta"] = (Fitter.load(args.single, args.device, body=ours.body), "meta", args.steps)
    for spec in args.extra or []:
        if "=" not in spec:
            raise InputError(f"--extra expects NAME=CHECKPOINT, got {spec!r}")
        name, path = spec.split("=", 1)
        methods[name] = (Fitter.load(path, args.device, body=ours.body), "meta", args.steps)
    methods["ours (meta + dual)" if ours.ckpt.aux is not None else "ours (meta)"] = (ours, "meta", args.steps)
    if "truncation" in splits:
        import json

        from metahmr_trainer.truncation import evaluate_truncation
        from metahmr_trainer.truncation import format_table as truncation_table

        splits.remove("truncation")
        res = evaluate_truncation(ours, n=args.truncation_n, steps=ours.default_steps)
        print(truncation_table(res))
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.out_dir) / "truncation.json").write_text(json.dumps(res, indent=1))
        if not splits:
            return 0
    if "hardpose" in splits:
        from metahmr_trainer.hardpose import evaluate_hardpose, write_results
        from metahmr_trainer.hardpose import format_table as hardpose_table

        splits.remove("hardpose")
        res = evaluate_hardpose(ours, n_per_category=args.hardpose_n)
        print(hardpose_table(res["summary"]))
        write_results(res, Path(args.out_dir))
        if not splits:
            return 0
    if "realpix" in splits:
        from metahmr_trainer.realpix.cli import evaluate_command

        splits.remove("realpix")
        evaluate_command(args, ours, {n: f for n, (f, start, _) in methods.items() if start == "meta" and f is not ours})
        if not splits:
            return 0
    if "world" in splits:
        from metahmr_video.app.config import Config, override
        from metahmr_trainer.realpix.world import evaluate_world
        from metahmr_trainer.realpix.world import format_table as world_table

        splits.remove("world")
        config = override(Config(), {"adapt.checkpoint": None if args.checkpoint is None else str(args.checkpoint)})
        for true_focal in (True, False):
            print(world_table(evaluate_world(Path(args.realpix_cache).expanduser(), Path(args.out_dir), true_focal,
                                             config=config, progress=False)) + "\n")
        if not splits:
            return 0
    res = evaluate(methods, ours.body, splits=splits, n=args.n, steps=args.steps,
                   cache_dir=Path(args.cache_dir).expanduser(), out_dir=Path(args.out_dir))
    print(format_table(res))
    print(f"\nwrote {Path(args.out_dir) / 'results.json'} and curves.png")
    return 0


def add_commands(subparsers, helps: dict[str, str]) -> None:
    """Register `train` and `evaluate` on the metahmr-video argparse sub-parsers; helps: their
    one-line descriptions (the command line lists them without importing the trainer)."""
    t = subparsers.add_parser("train", help=helps["train"])
    t.add_argument("--body", default="anny", metavar="FILE",
                   help="'anny' (default) or an SMPL/SMPL-X model file (.pkl/.npz) to train a checkpoint for")
    t.add_argument("--out", help=f"checkpoint to write (default: {ANNY_OUT} for Anny; for --body FILE the "
                                 "cache, where `run --body FILE` finds it)")
    t.add_argument("--stage", choices=["plain", "meta", "all"], default="all",
                   help="plain: supervised regressor only; meta: meta-train from --init; all: both (shipped recipe)")
    t.add_argument("--init", help="plain checkpoint to start meta-training from (stage meta)")
    t.add_argument("--work-dir", help="where intermediate checkpoints go (default: next to --out)")
    t.add_argument("--plain-iterations", type=int, default=SHIPPED_RECIPE["plain_iterations"], help="supervised iterations of the plain regressor (stage plain)")
    t.add_argument("--meta-iterations", type=int, default=SHIPPED_RECIPE["meta_iterations"], help="outer iterations of meta-training (stage meta)")
    t.add_argument("--batch-plain", type=int, default=SHIPPED_RECIPE["batch_plain"], help="people per batch, plain stage")
    t.add_argument("--batch-meta", type=int, default=SHIPPED_RECIPE["batch_meta"], help="people per batch, meta stage")
    t.add_argument("--meta-lr", type=float, default=1e-4, help="outer Adam lr")
    t.add_argument("--inner-steps", type=int, default=3, help="TTO steps per sample inside meta-training")
    t.add_argument("--inner-lr", type=float, default=0.1, help="fixed inner lr / initial learned rate")
    t.add_argument("--rates-lr", type=float, default=3e-3, help="Adam lr of the learned log step sizes")
    t.add_argument("--rates-clamp", type=float, default=4.0, help="log step sizes stay within log(inner lr) +- this")
    t.add_argument("--fixed-lr", action="store_true", help="the paper's fixed inner lr instead of learned rates")
    t.add_argument("--rates-scope", choices=["last", "all"], default="last",
                   help="which weights get learned rates and are adapted (last layer, or all)")
    t.add_argument("--second-order", action="store_true", help="differentiate through the inner steps")
    t.add_argument("--dual", action="store_true",
                   help="train the auxiliary network f_u and use its pseudo targets in L_test (off in the shipped recipe)")
    t.add_argument("--no-dual", action="store_true", help="single-network meta (the default; kept for clarity)")
    t.add_argument("--w-pseudo", type=float, default=0.1, help="L_test weight of the auxiliary network's pseudo targets (with --dual)")
    t.add_argument("--w-world", type=float, default=0.0,
                   help="L_test weight of the detector's world landmarks (similarity-aligned, robust; 0: 2D only)")
    t.add_argument("--w-step0", type=float, default=1.0, help="outer-loss weight of the prediction before any inner step")
    t.add_argument("--default-steps", type=int, default=5, help="TTO steps stored in the checkpoint as its default")
    t.add_argument("--eft-lr", type=float, help="EFT lr (default: selected on generated data from --eft-lrs)")
    t.add_argument("--eft-lrs", default="0.03,0.1,0.3", help="comma-separated EFT lrs tried when --eft-lr is not given")
    t.add_argument("--width", type=int, default=384, help="regressor hidden width")
    t.add_argument("--head-width", type=int, default=256, help="regressor output head width")
    t.add_argument("--data", default="synthetic",
                   help="'synthetic' (generated on the fly) or 'rendered:DIR': mix in the real detector's output on "
                        "rendered bodies from the shards in DIR (python -m metahmr_trainer.render_data)")
    t.add_argument("--rendered-fraction", type=float, default=0.5, help="share of each batch from the rendered shards")
    t.add_argument("--rendered-mirror", action="store_true", help="add the rendered samples' mirror images (2x data)")
    t.add_argument("--truncated", type=float, default=0.0,
                   help="share of generated people framed so that the frame cuts them (chest, waist, hips, knees)")
    t.add_argument("--online", type=float, default=0.0,
                   help="share of samples whose inner steps start from the adaptation of the same person a moment "
                        "before (online meta-training, E34)")
    t.add_argument("--seed", type=int, default=0, help="random seed of data and weights")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--restart", action="store_true", help="ignore saved training state (default: resume)")
    t.set_defaults(func=cmd_train)

    e = subparsers.add_parser("evaluate", help=helps["evaluate"])
    e.add_argument("--body", default="anny", metavar="FILE", help="'anny' (default) or an SMPL/SMPL-X model file")
    e.add_argument("--checkpoint", help="ours (default: the body's checkpoint: the shipped one for Anny, the "
                                        "cached one for --body FILE); also supplies no-TTO and EFT")
    e.add_argument("--single", help="a single-network meta checkpoint (trained with --no-dual)")
    e.add_argument("--extra", action="append", help="NAME=CHECKPOINT: more meta checkpoints to compare")
    e.add_argument("--steps", type=int, default=20, help="TTO steps of the error curves (0..steps)")
    e.add_argument("--no-baselines", action="store_true", help="skip the no-TTO and EFT rows (faster)")
    e.add_argument("--n", type=int, default=600, help="people per split")
    e.add_argument("--splits", default="real,synthetic",
                   help="comma-separated: real (bvhtools motion), synthetic, realpix (real pixels, docs/realpix.md), "
                        "truncation (people cut off by the frame, trainer/truncation.py), hardpose (rendered "
                        "hard poses seen by the real detector, trainer/hardpose.py), people (every person found, "
                        "one id each, no ghosts: labelled real clips, trainer/people/), world (camera height, pitch, "
                        "roll, feet and joints in the world on the pose2sim demo, trainer/realpix/world.py), hardpix "
                        "(real photos of hard poses fetched with pip, hand-placed 2D keypoints, trainer/hardpix.py)")
    e.add_argument("--truncation-n", type=int, default=150,
                   help="truncation: generated bodies, each seen whole and cut at 4 levels")
    e.add_argument("--hardpose-n", type=int, default=30, help="hardpose: rendered people per pose category")
    e.add_argument("--cache-dir", default="~/.cache/metahmr-video/bvh", help="where the bvhtools sdist is fetched")
    e.add_argument("--out-dir", default="results/evaluate", help="where results.json and curves.png go")
    e.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    e.add_argument("--device", default="cpu", help="cpu or cuda")
    from metahmr_trainer.realpix.cli import add_options as add_realpix_options

    add_realpix_options(e)
    from metahmr_trainer.people.evaluate import add_options as add_people_options

    add_people_options(e)
    e.set_defaults(func=cmd_evaluate)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (python -m metahmr_trainer.cli train ...), same commands as metahmr-video."""
    import sys
    parser = argparse.ArgumentParser(prog="python -m metahmr_trainer.cli")
    add_commands(parser.add_subparsers(dest="command", required=True),
                 {"train": "train a meta-checkpoint", "evaluate": "error against TTO steps"})
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MetaHMRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
