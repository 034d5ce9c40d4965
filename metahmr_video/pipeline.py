"""The streaming pipeline: frames -> detections -> tracks -> bodies -> smoothed bodies -> sinks.

    pipe = Pipeline(MultiPersonDetector(), Tracker(), Adapter(Fitter.load()), TrackSmoother())
    summary = pipe.run(open_source("clip.mp4"), sinks=[NpzSink("out/clip.npz", meta)])

Each stage is replaceable by anything with the same interface (`Detector`, `Smoother`, `Sink`;
the tracker's is `Tracker`'s `predictions` / `update` / `reset`, the adapter's `Adapter`'s call and
`reset`). Sinks get `write(frame, people)` per frame and `close()` at the end — also on Ctrl-C,
SIGTERM or an error, so what was computed is kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from metahmr_video.records import Detection, Frame, PersonBody


class Detector(Protocol):
    """People in a frame. hints: where people are expected (the tracker's predictions); full: run
    the full-frame search (None: the detector's own cadence)."""

    def detect(self, frame: Frame, hints: Sequence[Detection] = (), full: bool | None = True) -> list[Detection]: ...
    def reset(self) -> None: ...


class Smoother(Protocol):
    """Per-track temporal filter of a frame's bodies; `forget` drops tracks that ended."""

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]: ...
    def reset(self) -> None: ...
    def forget(self, track_ids: set[int]) -> None: ...


class Sink(Protocol):
    def write(self, frame: Frame, people: list[PersonBody]) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunSummary:
    """What a run did: frames, distinct tracks, person-frames, mean reprojection error (pixels),
    fallbacks (diverged adaptations), frames per second, and whether it was interrupted."""

    frames: int = 0
    tracks: set[int] = field(default_factory=set)
    person_frames: int = 0
    reproj_sum: float = 0.0
    fallbacks: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def mean_reproj_error(self) -> float:
        return self.reproj_sum / max(self.person_frames, 1)

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)

    def line(self) -> str:
        state = " (interrupted: results kept up to here)" if self.interrupted else ""
        return (f"{self.frames} frames, {len(self.tracks)} tracks, {self.person_frames} person-frames, "
                f"mean reprojection error {self.mean_reproj_error:.1f} px, {self.fallbacks} fallbacks, "
                f"{self.fps:.1f} fps{state}")


class Pipeline:
    """Wires the stages; `mesher` (e.g. `functools.partial(pose_bodies, body)`) is called on the
    smoothed people: it poses the body model with their smoothed parameters (joints, keypoints and,
    when a sink needs them, vertices), so that stored joints match stored parameters."""

    def __init__(self, detector: Detector, tracker, adapter, smoother: Smoother,
                 mesher: Callable | None = None) -> None:
        self.detector, self.tracker, self.adapter, self.smoother, self.mesher = detector, tracker, adapter, smoother, mesher
        self._alive: set[int] = set()

    def reset(self) -> None:
        """Forget per-video state (tracks, filters); models stay loaded."""
        for stage in (self.detector, self.tracker, self.adapter, self.smoother):
            stage.reset()
        self._alive = set()

    def step(self, frame: Frame) -> list[PersonBody]:
        """Process one frame; returns its smoothed people."""
        detections = self.detector.detect(frame, hints=self.tracker.predictions(), full=None)
        tracked = self.tracker.update(detections, frame.image)
        bodies = self.adapter(frame, tracked)
        alive = {t.track_id for t in tracked}
        self.smoother.forget(self._alive - alive)
        self._alive = alive
        smoothed = self.smoother(bodies)
        if self.mesher is not None:
            smoothed = self.mesher(smoothed)
        return smoothed

    def run(self, frames: Iterable[Frame], sinks: list[Sink], progress: Callable[[RunSummary], None] | None = None
            ) -> RunSummary:
        """Stream `frames` through the stages into `sinks`. Ctrl-C (KeyboardInterrupt) ends the run
        cleanly with summary.interrupted; every sink is closed whatever happens."""
        self.reset()
        summary = RunSummary()
        start = time.perf_counter()
        try:
            for frame in frames:
                people = self.step(frame)
                for sink in sinks:
                    sink.write(frame, people)
                summary.frames += 1
                summary.person_frames += len(people)
                summary.tracks.update(p.track_id for p in people)
                summary.reproj_sum += float(np.sum([p.reproj_error for p in people if np.isfinite(p.reproj_error)]))
                summary.fallbacks += sum(p.fallback for p in people)
                summary.seconds = time.perf_counter() - start
                if progress is not None:
                    progress(summary)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            summary.seconds = time.perf_counter() - start
            for sink in sinks:
                sink.close()
        return summary
