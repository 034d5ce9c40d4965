"""`run`'s frame rate on 1088x1920 two-person footage (pose2sim's MultiPerson views, fetched with pip
like the people split), this code against an older commit's, alternating clip by clip and round by
round on the same machine (issue 24's speed goal: 2x the issue's code, af90c6b).

    python benchmarks/people_speed.py [--against af90c6b] [--rounds 2] [--views 1,2,3,4]

Each run is `metahmr-video run VIEW -q` in its own process (the older code from `git archive`); the
frame rate is the one `run` prints (frames over the seconds of the loop, models loaded).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from adaptation import extract  # noqa: E402

RUN = "import sys; from metahmr_video.app.cli import main; sys.argv = ['metahmr-video'] + sys.argv[1:]; main()"


def timed(video: Path, code_root: Path | None, out: Path) -> tuple[int, float]:
    """(frames, frames per second) as `run` prints them for `video`, with the package under
    `code_root` (None: this one)."""
    env = dict(os.environ, PYTHONPATH=str(code_root)) if code_root else dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", RUN, "run", str(video), "-o", str(out), "-q"], env=env,
                          capture_output=True, text=True, check=True, cwd=out.parent)
    frames, rate = re.findall(r"([0-9]+) frames, .* ([0-9.]+) fps", proc.stdout + proc.stderr)[-1]
    return int(frames), float(rate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="af90c6b", help="git ref to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--views", default="1,2,3,4", help="which of the four MultiPerson views")
    args = ap.parse_args()
    from metahmr_trainer.realpix.data import DEFAULT_CACHE, extract as fetch

    videos = fetch([f"Pose2Sim/Demo_MultiPerson/videos/cam0{int(i)}.mp4" for i in args.views.split(",")], DEFAULT_CACHE)
    rows: dict[str, list] = {v.name: [] for v in videos}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "code").mkdir()
        old = extract(args.against, Path(tmp) / "code")
        for _ in range(args.rounds):
            for v in videos:
                rows[v.name].append((timed(v, old, Path(tmp) / "before"), timed(v, None, Path(tmp) / "now")))
    print(f"| view (1088x1920, 2 people) | {args.against} fps | this fps | ratio per round |")
    print("|---|---|---|---|")
    seconds_old = seconds_new = 0.0
    for name, pairs in rows.items():
        print(f"| {name} | {' / '.join(f'{a[1]:.1f}' for a, _ in pairs)} | {' / '.join(f'{b[1]:.1f}' for _, b in pairs)} | "
              f"{' / '.join(f'{b[1] / a[1]:.2f}' for a, b in pairs)} |")
        seconds_old += sum(a[0] / a[1] for a, _ in pairs)
        seconds_new += sum(b[0] / b[1] for _, b in pairs)
    print(f"all views: {seconds_old / seconds_new:.2f}x (the seconds of {args.against} over this code's, every run)")


if __name__ == "__main__":
    main()
