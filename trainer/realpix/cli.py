"""`metahmr-video evaluate --splits realpix`: the real-pixel table for the evaluated checkpoint
(and --extra ones); prints it and writes OUT_DIR/realpix.json."""
from __future__ import annotations

import argparse
from pathlib import Path


def evaluate_command(args: argparse.Namespace, fitter, extra: dict) -> dict:
    """Run the real-pixel evaluation with the `evaluate` command's options."""
    from metahmr_trainer.realpix.evaluate import STEPS, evaluate_realpix, format_table

    steps = tuple(k for k in STEPS if k <= args.steps)
    res = evaluate_realpix(fitter, steps=steps, pipeline=not args.no_pipeline_row, checkpoint=args.checkpoint,
                           out_dir=Path(args.out_dir), cache_dir=Path(args.realpix_cache).expanduser(), extra=extra,
                           refresh=args.realpix_refresh, baselines=not args.no_baselines)
    print(format_table(res))
    print(f"\nwrote {Path(args.out_dir) / 'realpix.json'}")
    return res


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--realpix-cache", default="~/.cache/metahmr-video/realpix",
                        help="realpix: where the pose2sim wheel, detections and fixed rows are cached")
    parser.add_argument("--realpix-refresh", action="store_true",
                        help="realpix: recompute the cached rows (after changing fitting or pipeline code)")
    parser.add_argument("--no-pipeline-row", action="store_true",
                        help="realpix: skip the full-pipeline row (saves a few minutes)")
