"""Runs every benchmark in turn (fresh process each, so none warms another's caches) and writes one
markdown report with the machine it ran on, plus the raw output of each, to benchmarks/results/.

    python benchmarks/run_all.py [--quick] [--out benchmarks/results/REPORT.md]

--quick: fewer frames and a 1-minute memory stream (for a smoke run); the default runs the
30-minute memory stream, which takes a long time on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), CUDA device: {gpu}, Python {platform.python_version()}")


def plan(quick: bool) -> list[tuple[str, list[str]]]:
    frames = ["--frames", "20"] if quick else ["--frames", "60"]
    return [
        ("Body model (forward, forward+backward; B = 1, 8, 32)", ["body_model.py"]),
        ("Perception (decode, detector vs people, tracker)", ["perception.py", *frames]),
        ("Adaptation (N people in one batch vs N separate)", ["adaptation.py"]),
        ("Pipeline (fps by stage on the example clip; batching)", ["pipeline.py", *(["--frames", "20"] if quick else [])]),
        ("Temporal smoothing (synthetic known motion; real clip raw vs smoothed)", ["smoothing.py", *(["--frames", "40"] if quick else [])]),
        ("Export (5 tracks x 1,000 frames)", ["export.py"]),
        ("Motion on game-engine rigs (transfer error, time)", ["rigs.py", "--samples", "40" if quick else "200"]),
        ("Many videos: serial vs local Ray, 2 workers (needs the ray extra)",
         ["scale.py", "--frames", "6" if quick else "25"]),
        ("Long-stream memory", ["memory.py", "--minutes", "1" if quick else "30"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "REPORT.md")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"# metahmr-video benchmarks\n\n{datetime.date.today()}; {machine()}\n"]
    failed = 0
    for title, cmd in plan(args.quick):
        print(f"== {title}: {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], capture_output=True, text=True)
        took = time.perf_counter() - start
        body = proc.stdout.strip() if proc.returncode == 0 else f"FAILED (exit {proc.returncode}):\n\n```\n{proc.stderr[-2000:]}\n```"
        failed += proc.returncode != 0
        parts.append(f"## {title}\n\n`python benchmarks/{' '.join(cmd)}` ({took:.0f} s)\n\n{body}\n")
        print(body, flush=True)
    args.out.write_text("\n".join(parts))
    print(f"report: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
