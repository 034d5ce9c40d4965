"""Where a run's time goes: milliseconds per frame by stage, each frame's latency, the worst frame.

    times = StageTimes()
    with times.section("detect", frame.index):
        ...
    print(times.report())

The pipeline overlaps its stages in threads (decode, detect + track, adapt + smooth, sinks), so a
stage's time is the wall-clock duration of its calls in its own thread, and the stages' sum exceeds
the time between frames. A frame's latency runs from `start` (it enters detection) to `finish` (its
sinks are done); the gap between two frames' finishes is what a viewer sees as a stall.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


@dataclass
class FrameTimes:
    """One frame: seconds per stage, and the clock readings at start and finish (None until set)."""

    index: int
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    start: float | None = None
    finish: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.start is None or self.finish is None else self.finish - self.start


class StageTimes:
    """Thread-safe stage timer keyed by frame index. `clock` returns seconds (tests pass a fake)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.frames: dict[int, FrameTimes] = {}
        self._lock = threading.Lock()

    def _frame(self, index: int) -> FrameTimes:
        f = self.frames.get(index)
        if f is None:
            f = self.frames[index] = FrameTimes(index)
        return f

    def add(self, stage: str, index: int, seconds: float) -> None:
        with self._lock:
            self._frame(index).stages[stage] += seconds

    @contextlib.contextmanager
    def section(self, stage: str, index: int) -> Iterator[None]:
        """Time the enclosed block as `stage` of frame `index` (added up over repeated sections)."""
        t = self.clock()
        try:
            yield
        finally:
            self.add(stage, index, self.clock() - t)

    def start(self, index: int) -> None:
        with self._lock:
            self._frame(index).start = self.clock()

    def finish(self, index: int) -> None:
        with self._lock:
            self._frame(index).finish = self.clock()

    def timed(self, items: Iterable[T], stage: str, index: Callable[[T], int] = lambda f: f.index) -> Iterator[T]:
        """Iterate `items`, adding the time each takes to produce as `stage` of its frame (decode)."""
        it = iter(items)
        while True:
            t = self.clock()
            try:
                item = next(it)
            except StopIteration:
                return
            self.add(stage, index(item), self.clock() - t)
            yield item

    def summary(self, skip: int = 0) -> dict:
        """stage -> ms per frame (over all timed frames) and max ms; frames; fps (first start to
        last finish); the worst frame by the gap to the previous finish (`worst_gap`) and by
        latency (`worst_latency`), each with its index, ms and stage breakdown, among the frames
        from index `skip` on (e.g. to leave a start-up out)."""
        with self._lock:
            frames = sorted(self.frames.values(), key=lambda f: f.index)
        n = len(frames)
        stages: dict[str, list[float]] = defaultdict(list)
        for f in frames:
            for k, v in f.stages.items():
                stages[k].append(v)
        per_stage = {k: {"ms_per_frame": 1e3 * sum(v) / max(n, 1), "max_ms": 1e3 * max(v)} for k, v in stages.items()}
        done = sorted((f for f in frames if f.finish is not None), key=lambda f: f.finish)
        out = {"frames": n, "stages": per_stage, "fps": None, "worst_gap": None, "worst_latency": None}
        starts = [f.start for f in frames if f.start is not None]
        if done and starts:
            span = done[-1].finish - min(starts)
            out["fps"] = len(done) / span if span > 0 else None
            gaps = [(b.finish - a.finish, b) for a, b in zip(done, done[1:]) if b.index >= skip]
            if gaps:
                gap, f = max(gaps, key=lambda g: g[0])
                out["worst_gap"] = {"index": f.index, "ms": 1e3 * gap, "stages": _ms(f.stages)}
            lat = [f for f in done if f.latency is not None and f.index >= skip]
            if lat:
                f = max(lat, key=lambda f: f.latency)
                out["worst_latency"] = {"index": f.index, "ms": 1e3 * f.latency, "stages": _ms(f.stages)}
        return out

    def report(self) -> str:
        """The summary as a few lines of text (what `run --profile` prints)."""
        s = self.summary()
        lines = [f"profile: {s['frames']} frames" + (f", {s['fps']:.1f} fps" if s["fps"] else "")
                 + " (stages overlap in threads: their sum exceeds the time per frame)",
                 f"  {'stage':<22}{'ms/frame':>10}{'max ms':>10}"]
        for k, v in sorted(s["stages"].items(), key=lambda kv: _ORDER.get(kv[0].split(".")[0], 99)):
            lines.append(f"  {k:<22}{v['ms_per_frame']:>10.1f}{v['max_ms']:>10.1f}")
        for key, what in (("worst_gap", "longest gap between two frames"), ("worst_latency", "highest latency")):
            w = s[key]
            if w:
                parts = ", ".join(f"{k} {v:.0f}" for k, v in w["stages"].items())
                lines.append(f"  {what}: {w['ms']:.0f} ms at frame {w['index']} ({parts})")
        return "\n".join(lines)


_ORDER = {"decode": 0, "detect": 1, "track": 2, "adapt": 3, "smooth": 4, "mesh": 5, "sinks": 6}


def _ms(stages: dict[str, float]) -> dict[str, float]:
    return {k: 1e3 * v for k, v in sorted(stages.items(), key=lambda kv: _ORDER.get(kv[0].split(".")[0], 99))}
