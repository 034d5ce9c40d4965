"""Batched test-time adaptation on a CUDA device: N people (1 ... 64) adapted together, K steps.

    python benchmarks/cuda_batch.py export [--bundle benchmarks/results/cuda_bundle.pt]   # here
    python benchmarks/cuda_batch.py run [--bundle ...] [--out results.json]               # on the GPU machine

The lent GPU machines cannot hold Anny and Warp (500 MB, over the 64 MiB that travels), so `export`
saves what adaptation touches: Anny's fitting path (`body/anny_fit.py`: the skeleton and the landmark
vertices, plain torch), its landmark table and 64 generated people's evidence. `run` rebuilds the
body around that fitting path (empty stand-ins for the Anny and Warp modules our imports name; the
rest is our package) and times `Fitter`'s own inner steps
(`adapt.steps.inner_steps`, the shipped checkpoint's learned rates and test loss) per batch:
median wall time of 20 calls after 3 warm-ups, CUDA-synchronised, on the GPU and on the machine's
CPU (one thread) for reference.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUNDLE = ROOT / "benchmarks" / "results" / "cuda_bundle.pt"


def export(path: Path) -> None:
    import torch

    from metahmr_video.body import AnnyBody
    from metahmr_trainer.data import SyntheticData

    body = AnnyBody()
    ev, _ = SyntheticData(body).sample(64, torch.Generator().manual_seed(0))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"fit_path": body.fit_path, "kp_index": body.kp_index, "num_bones": body.num_bones,
                "num_shape": body.num_shape, "shape_center": body.shape_center, "shape_bounds": body.shape_bounds,
                "evidence": vars(ev)}, path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def _stand_ins() -> None:
    """Where Anny (and Warp, which our body package initialises) are not installed: empty modules
    with the names our imports use. The fitting path reads Anny's phenotype table only when it is
    built, which `export` did."""
    try:
        import anny  # noqa: F401
        return
    except ImportError:
        pass
    for name in ("anny", "anny.models", "anny.models.model_data", "warp"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["anny.models.model_data"].PHENOTYPE_VARIATIONS = {}
    warp = sys.modules["warp"]
    warp.config, warp.LOG_WARNING, warp.init = types.SimpleNamespace(log_level=None), 0, lambda: None


def run(path: Path, out: Path | None) -> None:
    _stand_ins()
    import torch
    from torch import nn

    from metahmr_video.adapt.steps import inner_steps
    from metahmr_video.body import AnnyBody
    from metahmr_video.model.checkpoint import Checkpoint
    from metahmr_video.model.features import Evidence, features

    b = torch.load(path, map_location="cpu", weights_only=False)

    class FitPathBody(nn.Module):
        """AnnyBody's return_vertices=False path (skeleton + landmark vertices) on its own."""

        forward = AnnyBody.forward  # only its fitting-path branch runs (body_forward asks for no vertices)

        def __init__(self) -> None:
            super().__init__()
            self.fit_path = b["fit_path"]
            self.register_buffer("kp_index", b["kp_index"])
            self.num_bones, self.num_shape = b["num_bones"], b["num_shape"]
            self.shape_center, self.shape_bounds = b["shape_center"], b["shape_bounds"]

    ckpt = Checkpoint.load(ROOT / "metahmr_video" / "checkpoints" / "anny_meta.pt", "cpu")
    results = {"torch": torch.__version__, "rows": []}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if torch.cuda.is_available():
        results["gpu"] = torch.cuda.get_device_name(0)
    torch.set_num_threads(1)
    for dev in devices:
        body = FitPathBody().to(dev)
        net = ckpt.meta.to(dev).eval()
        rates = {k: v.to(dev) for k, v in ckpt.rates.items()}
        full = Evidence(**{k: v.to(dev) for k, v in b["evidence"].items()})
        for n in (1, 8, 64):
            ev = full.index(slice(0, n))
            x = features(ev)
            for k in (1, 3, 5):
                def call():
                    inner_steps(net, body, x, ev, ckpt.loss_config, k, rates)
                    if dev == "cuda":
                        torch.cuda.synchronize()
                for _ in range(3):
                    call()
                times = []
                for _ in range(20):
                    t = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - t)
                ms = 1e3 * statistics.median(times)
                results["rows"].append({"device": dev, "people": n, "steps": k, "ms": round(ms, 2),
                                        "ms_per_step": round(ms / k, 2)})
                print(f"{dev:4s} N={n:2d} K={k}: {ms:7.2f} ms per batch, {ms / k:6.2f} ms per step", flush=True)
    if out is not None:
        out.write_text(json.dumps(results, indent=1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["export", "run"])
    p.add_argument("--bundle", type=Path, default=BUNDLE)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    if a.mode == "export":
        export(a.bundle)
    else:
        run(a.bundle, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
