"""The streaming pipeline: frames -> detections -> tracks -> bodies -> smoothed bodies -> sinks.

    pipe = Pipeline(MultiPersonDetector(), Tracker(), Adapter(Fitter.load()), TrackSmoother())
    summary = pipe.run(open_source("clip.mp4"), sinks=[NpzSink("out/clip.npz", meta)])

Each stage is replaceable by anything with the same interface (`Detector`, `Smoother`, `Sink`;
the tracker's is `Tracker`'s `predictions` / `update` / `reset`, the adapter's `Adapter`'s call and
`reset`). Sinks get `write(frame, people)` per frame and `close()` at the end — also on Ctrl-C,
SIGTERM or an error, so what was computed is kept.

With `overlap` (the default), `run` detects and tracks frame t+1 in a thread while frame t is
adapted, and writes the sinks in another (LiteRT, OpenCV, PyAV and torch release the GIL in their
heavy calls); the results are those of the serial loop, frame for frame.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from metahmr_video.profiling import StageTimes
from metahmr_video.records import Detection, Frame, PersonBody, TrackedPerson
from metahmr_video.sinks.background import BackgroundWriter
from metahmr_video.sources import prefetch


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
    """Wires the stages; `mesher` (e.g. `functools.partial(attach_vertices, body)`) is called on the
    smoothed people when a sink needs vertices. overlap: stages in threads (see the module
    docstring). times: a `StageTimes` that each stage's calls are added to (None: not timed)."""

    def __init__(self, detector: Detector, tracker, adapter, smoother: Smoother,
                 mesher: Callable | None = None, overlap: bool = True, times: StageTimes | None = None) -> None:
        self.detector, self.tracker, self.adapter, self.smoother, self.mesher = detector, tracker, adapter, smoother, mesher
        self.overlap, self.times = overlap, times
        self._alive: set[int] = set()

    def reset(self) -> None:
        """Forget per-video state (tracks, filters); models stay loaded."""
        for stage in (self.detector, self.tracker, self.adapter, self.smoother):
            stage.reset()
        self._alive = set()

    def _section(self, stage: str, frame: Frame):
        return self.times.section(stage, frame.index) if self.times is not None else contextlib.nullcontext()

    def perceive(self, frame: Frame) -> list[TrackedPerson]:
        """Detect and track one frame (the tracker's predictions are the detector's hints)."""
        if self.times is not None:
            self.times.start(frame.index)
        with self._section("detect", frame):
            detections = self.detector.detect(frame, hints=self.tracker.predictions(), full=None)
        with self._section("track", frame):
            return self.tracker.update(detections, frame.image)

    def bodies(self, frame: Frame, tracked: list[TrackedPerson]) -> list[PersonBody]:
        """Adapt and smooth a frame's tracked people (no vertices: see `mesher`)."""
        with self._section("adapt", frame):
            bodies = self.adapter(frame, tracked)
        with self._section("smooth", frame):
            alive = {t.track_id for t in tracked}
            self.smoother.forget(self._alive - alive)
            self._alive = alive
            return self.smoother(bodies)

    def mesh(self, frame: Frame, people: list[PersonBody]) -> list[PersonBody]:
        if self.mesher is None:
            return people
        with self._section("mesh", frame):
            return self.mesher(people)

    def step(self, frame: Frame) -> list[PersonBody]:
        """Process one frame; returns its smoothed people."""
        return self.mesh(frame, self.bodies(frame, self.perceive(frame)))

    def _perceived(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, list[TrackedPerson]]]:
        for frame in frames:
            yield frame, self.perceive(frame)

    def run(self, frames: Iterable[Frame], sinks: list[Sink], progress: Callable[[RunSummary], None] | None = None,
            foreground: Sequence[Sink] = ()) -> RunSummary:
        """Stream `frames` through the stages into `sinks`. Ctrl-C (KeyboardInterrupt) ends the run
        cleanly with summary.interrupted; every sink is closed whatever happens. `foreground`
        sinks (e.g. a window: GUI toolkits want one thread) are written in the calling thread, with
        the people before `mesher`."""
        self.reset()
        summary = RunSummary()
        start = time.perf_counter()
        perceived = self._perceived(frames)
        if self.overlap:
            perceived = prefetch(perceived, depth=1)

        def write(frame: Frame, people: list[PersonBody]) -> None:
            people = self.mesh(frame, people)
            with self._section("sinks", frame):
                for sink in sinks:
                    sink.write(frame, people)
            if self.times is not None:
                self.times.finish(frame.index)

        def close() -> None:
            errors = []
            for sink in [*sinks, *foreground]:
                try:
                    sink.close()
                except Exception as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]

        writer = BackgroundWriter(write, close) if self.overlap else None
        try:
            for frame, tracked in perceived:
                people = self.bodies(frame, tracked)
                for sink in foreground:
                    sink.write(frame, people)
                if writer is not None:
                    writer.write(frame, people)
                else:
                    write(frame, people)
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
            try:
                if self.overlap:
                    perceived.close()  # stops the detect + track thread
            finally:
                summary.seconds = time.perf_counter() - start
                if writer is not None:
                    writer.close()
                else:
                    close()
        return summary
