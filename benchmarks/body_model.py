"""Body-model timing: forward and forward+backward for B = 1, 8, 32, both Anny topologies, CPU and
CUDA when present. Prints a markdown table (ms per call and ratio to B = 1) and writes JSON.

    python benchmarks/body_model.py [--out benchmarks/results/body_model.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from metahmr_video.body import AnnyBody
from metahmr_video.body.anny_body import FIT_TOPOLOGY, FULL_TOPOLOGY
from metahmr_video.core.rotations import axis_angle_to_rotmat


def _time(fn, device: str, repeats: int) -> float:
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1000.0


def run(repeats: int = 10) -> list[dict]:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for topology in (FIT_TOPOLOGY, FULL_TOPOLOGY):
        for device in devices:
            body = AnnyBody(topology=topology).to(device)
            base = {}
            for batch in (1, 8, 32):
                rv = (torch.randn(batch, body.num_bones, 3, device=device) * 0.3).requires_grad_()
                shape = torch.full((batch, 6), 0.5, device=device, requires_grad=True)

                def fwd():
                    with torch.no_grad():
                        body(axis_angle_to_rotmat(rv), shape)

                def fwd_bwd():
                    out = body(axis_angle_to_rotmat(rv), shape)
                    (out.keypoints.square().sum() + out.vertices.square().mean()).backward()

                f, fb = _time(fwd, device, repeats), _time(fwd_bwd, device, repeats)
                base.setdefault("f", f)
                base.setdefault("fb", fb)
                rows.append(dict(topology=topology, device=device, batch=batch, vertices=body.model.template_vertices.shape[0],
                                 forward_ms=f, forward_backward_ms=fb, forward_ratio=f / base["f"],
                                 forward_backward_ratio=fb / base["fb"]))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| topology | vertices | device | B | forward ms | x B=1 | fwd+bwd ms | x B=1 |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['topology']} | {r['vertices']} | {r['device']} | {r['batch']} | {r['forward_ms']:.1f} | "
              f"{r['forward_ratio']:.2f} | {r['forward_backward_ms']:.1f} | {r['forward_backward_ratio']:.2f} |"
              for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/body_model.json"))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = run(args.repeats)
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
