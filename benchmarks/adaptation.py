"""Cost of test-time adaptation: per K, per part of a step, and batched vs per-person.

    python benchmarks/adaptation.py [--people 1,6] [--steps 0,1,2,3,5] [--against REF] [--batching] [--compile]

1. `Fitter.fit_evidence` (network, K steps of Anny forward/backward, the body output) for N people
   at each K: wall ms and thread-CPU ms per call (the lowest of 3 trials; CPU time is what a shared
   machine's load inflates least), and the cost per added step. With `--against REF` (a git ref, e.g. main), the same
   is measured for that commit's code (extracted with `git archive` and run in its own process),
   alternating with this checkout's, round after round: old/new side by side in one run.
2. One step's parts (thread-CPU ms): regressor head, decoding, body forward (skeleton + landmark
   vertices), test loss, backward.
3. `--batching`: N people in one batched computation vs N separate adaptations (default K).
4. `--compile`: decoding + body + test loss, forward and backward, under `torch.compile(dynamic=True)`
   against eager, and the time of each first compiled call (compilation) per N.
Shipped checkpoint, synthetic people (`metahmr_trainer.data.SyntheticData`), CPU (or CUDA when present).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeat: int, trials: int = 3) -> tuple[float, float]:
    """(wall ms, thread-CPU ms) per call: the lowest mean of `trials` trials of `repeat` calls each,
    after one warm-up call (the lowest is the least disturbed by other processes)."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(trials):
        t, c = time.perf_counter(), time.thread_time()
        for _ in range(repeat):
            fn()
        best = (min(best[0], (time.perf_counter() - t) / repeat * 1e3), min(best[1], (time.thread_time() - c) / repeat * 1e3))
    return best


def setup(device: str, threads: int, n: int):
    from metahmr_video.adapt import Fitter
    from metahmr_trainer.data import SyntheticData

    torch.set_num_threads(threads)
    fitter = Fitter.load(device=device)
    ev, _ = SyntheticData(fitter.body).sample(n, torch.Generator().manual_seed(1))
    return fitter, ev.to(device)


def cost_by_k(device: str, threads: int, people: list[int], steps: list[int], repeat: int) -> dict:
    """{"N,K": (wall ms, cpu ms)} for this process's code."""
    out = {}
    for n in people:
        fitter, ev = setup(device, threads, n)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        for k in steps:
            out[f"{n},{k}"] = timed(lambda: (fitter.fit_evidence(ev, steps=k), sync()), repeat)
    return out


def step_parts(device: str, threads: int, people: list[int], repeat: int) -> dict:
    """Thread-CPU ms of the parts of a step (the third: two steps' factors in the last layer), per N."""
    from metahmr_video.adapt.steps import FactoredLastLayer, body_forward
    from metahmr_video.model.features import decode, features
    from metahmr_video.model.losses import test_loss

    out = {}
    for n in people:
        fitter, ev = setup(device, threads, n)
        net, body, cfg = fitter.ckpt.meta, fitter.body, fitter.ckpt.loss_config
        feat = features(ev)
        feat = net.trunk(feat)
        last = FactoredLastLayer(net, fitter.rates, n)
        for _ in range(2):
            theta = net.head(feat, last)
            params = decode(theta, ev, body)
            last.step(test_loss(params, body_forward(body, params), ev, cfg).sum(), False)
        theta = net.head(feat, last)
        outputs = list(last.outputs)
        params = decode(theta, ev, body)
        bo = body_forward(body, params)
        loss = test_loss(params, bo, ev, cfg).sum()

        def head():
            net.head(feat, last)
            last.inputs, last.outputs = [], []

        parts = {
            "regressor head (IEF, factored per-person last layer)": head,
            "decode (6D -> rotations, camera)": lambda: decode(theta, ev, body),
            "body forward (skeleton + landmark vertices)": lambda: body_forward(body, params),
            "test loss": lambda: test_loss(params, bo, ev, cfg),
            "backward (to the last layer's outputs)": lambda: torch.autograd.grad(loss, outputs, retain_graph=True),
        }
        out[n] = {name: timed(fn, repeat)[1] for name, fn in parts.items()}
    return out


def batching(device: str, threads: int, repeat: int) -> list[dict]:
    rows = []
    for n in (1, 2, 4, 8, 16, 32):
        fitter, ev = setup(device, threads, n)
        k = fitter.default_steps
        tb = timed(lambda: fitter.fit_evidence(ev, steps=k), repeat if n <= 8 else 1)[0]
        tl = timed(lambda: [fitter.fit_evidence(ev.index(slice(j, j + 1)), steps=k) for j in range(n)],
                   repeat if n <= 8 else 1)[0]
        rows.append(dict(people=n, steps=k, batched_ms=tb, loop_ms=tl))
    return rows


def compiled(device: str, threads: int, people: list[int], repeat: int) -> list[dict]:
    """decode + body + test loss, forward + backward to theta: eager vs torch.compile (dynamic)."""
    from metahmr_video.adapt.steps import body_forward
    from metahmr_video.model.features import decode, features
    from metahmr_video.model.losses import test_loss

    fitter, _ = setup(device, threads, 1)
    body, cfg = fitter.body, fitter.ckpt.loss_config

    def loss_of(theta, ev):
        params = decode(theta, ev, body)
        return test_loss(params, body_forward(body, params), ev, cfg).sum()

    fast = torch.compile(loss_of, dynamic=True)
    rows = []
    for n in people:
        _, ev = setup(device, threads, n)
        with torch.no_grad():
            theta = fitter.ckpt.meta(features(ev)).requires_grad_()
        t = time.perf_counter()
        torch.autograd.grad(fast(theta, ev), theta)
        first = time.perf_counter() - t
        rows.append(dict(people=n, first_call_s=first,
                         eager_ms=timed(lambda: torch.autograd.grad(loss_of(theta, ev), theta), repeat)[1],
                         compiled_ms=timed(lambda: torch.autograd.grad(fast(theta, ev), theta), repeat)[1]))
    return rows


def extract(ref: str, into: Path) -> Path:
    """The package and trainer of git `ref`, unpacked under `into` (read-only use of the repo)."""
    archive = into / "ref.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "metahmr_video", "trainer"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def child(code_root: Path, args: argparse.Namespace) -> dict:
    """cost_by_k for the code under code_root, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    cmd = [sys.executable, __file__, "--child", "--people", args.people, "--steps", args.steps, "--device", args.device,
           "--threads", str(args.threads), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", default="1,6")
    ap.add_argument("--steps", default="0,1,2,3,5")
    ap.add_argument("--against", default=None, help="git ref to compare with (e.g. main)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds with --against")
    ap.add_argument("--batching", action="store_true", help="also N people batched vs separate")
    ap.add_argument("--compile", action="store_true", help="also torch.compile of a step's loss against eager")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    people = [int(s) for s in args.people.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    if args.child:
        print(json.dumps(cost_by_k(args.device, args.threads, people, steps, args.repeat)))
        return
    print(f"device {args.device}, torch threads {args.threads}; ms per call of Fitter.fit_evidence "
          f"(wall / thread CPU)\n")
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            old_root = extract(args.against, Path(tmp))
            runs = {"new": [], "old": []}
            for _ in range(args.rounds):
                runs["old"].append(child(old_root, args))
                runs["new"].append(child(ROOT, args))
        med = {v: {key: tuple(statistics.median(r[key][i] for r in runs[v]) for i in (0, 1)) for key in runs[v][0]}
               for v in runs}
        print(f"| N | K | {args.against} ms (wall / CPU) | this ms (wall / CPU) | CPU ratio | CPU ms per step "
              f"({args.against} / this) |\n|---|---|---|---|---|---|")
        for n in people:
            for k in steps:
                o, w = med["old"][f"{n},{k}"], med["new"][f"{n},{k}"]
                per = ""
                if k > 0:
                    o0, w0 = med["old"][f"{n},0"], med["new"][f"{n},0"]
                    per = f"{(o[1] - o0[1]) / k:.1f} / {(w[1] - w0[1]) / k:.1f}"
                print(f"| {n} | {k} | {o[0]:.1f} / {o[1]:.1f} | {w[0]:.1f} / {w[1]:.1f} | {w[1] / o[1]:.2f} | {per} |")
    else:
        res = cost_by_k(args.device, args.threads, people, steps, args.repeat)
        print("| N | K | ms (wall / CPU) | CPU ms per added step |\n|---|---|---|---|")
        for n in people:
            for k in steps:
                w, c = res[f"{n},{k}"]
                per = f"{(c - res[f'{n},0'][1]) / k:.1f}" if k > 0 and f"{n},0" in res else ""
                print(f"| {n} | {k} | {w:.1f} / {c:.1f} | {per} |")
    parts = step_parts(args.device, args.threads, people, args.repeat * 4)
    print("\nOne step's parts, thread-CPU ms:\n\n| part | " + " | ".join(f"N = {n}" for n in people) + " |\n|---|"
          + "---|" * len(people))
    for name in parts[people[0]]:
        print(f"| {name} | " + " | ".join(f"{parts[n][name]:.2f}" for n in people) + " |")
    if args.compile:
        print("\ndecode + body + test loss, forward and backward, thread-CPU ms:\n\n"
              "| N | eager | torch.compile | first compiled call s |\n|---|---|---|---|")
        for r in compiled(args.device, args.threads, people, args.repeat * 4):
            print(f"| {r['people']} | {r['eager_ms']:.2f} | {r['compiled_ms']:.2f} | {r['first_call_s']:.0f} |")
    if args.batching:
        print("\n| people | K | one batch ms | N separate ms | separate / batch |\n|---|---|---|---|---|")
        for r in batching(args.device, args.threads, args.repeat):
            print(f"| {r['people']} | {r['steps']} | {r['batched_ms']:.1f} | {r['loop_ms']:.1f} | "
                  f"{r['loop_ms'] / r['batched_ms']:.2f} |")


if __name__ == "__main__":
    main()
