"""Batched per-person adaptation vs a per-person loop: one TTO step and K steps, N = 1..32 people.

    python benchmarks/adaptation.py [--steps K] [--start meta|plain] [--device cpu|cuda] [--threads 2]

Times Fitter.fit_evidence (network + Anny forward/backward + body output) with the shipped
checkpoint; the loop calls it once per person. Prints ms and loop/batched ratio.
"""
from __future__ import annotations

import argparse
import time

import torch

from metahmr_video.adapt import Fitter
from trainer.data import SyntheticData


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=None, help="K (default: the checkpoint's default)")
    ap.add_argument("--start", default="meta", choices=["meta", "plain"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="1,2,4,8,16,32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="N = 1, 2, 4 only, one repeat (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeat = "1,2,4", 1
    torch.set_num_threads(args.threads)
    fitter = Fitter.load(device=args.device)
    k = fitter.default_steps if args.steps is None else args.steps
    sizes = [int(s) for s in args.sizes.split(",")]
    ev_all, _ = SyntheticData(fitter.body).sample(max(sizes), torch.Generator().manual_seed(1))
    ev_all = ev_all.to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    print(f"device {args.device}, threads {args.threads}, start {args.start}, K = {k}")
    print("| N | 1 step batched ms | 1 step loop ms | ratio | K steps batched ms | K steps loop ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        ev = ev_all.index(slice(0, n))
        row = [str(n)]
        for steps in (1, k):
            def batched():
                fitter.fit_evidence(ev, steps=steps, start=args.start); sync()

            def loop():
                for j in range(n):
                    fitter.fit_evidence(ev.index(slice(j, j + 1)), steps=steps, start=args.start)
                sync()
            rep = args.repeat if n <= 8 else 1
            tb, tl = timed(batched, rep), timed(loop, rep)
            row += [f"{tb:.1f}", f"{tl:.1f}", f"{tl / tb:.1f}x"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
