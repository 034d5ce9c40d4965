"""The streaming pipeline: frames -> detections -> tracks -> bodies -> smoothed bodies -> sinks.

    pipe = Pipeline(MultiPersonDetector(), Tracker(), Adapter(Fitter.load()), TrackSmoother())
    summary = pipe.run(open_source("clip.mp4"), sinks=[NpzSink("out/clip.npz", meta)])

Each stage is replaceable by anything with the same interface (`Detector`, `Smoother`, `Sink`;
the tracker's is `Tracker`'s `predictions` / `update` / `reset`, the adapter's `Adapter`'s call and
`reset`). Sinks get `write(frame, people)` per frame and `close()` at the end — also on Ctrl-C,
SIGTERM or an error, so what was computed is kept.

A track is confirmed after a few detections in a row (`TrackerConfig.min_hits`). Offline, the
pipeline holds its output back by `hold` = min_hits - 1 frames and adapts tentative tracks too, so a
confirmed track is reported from its first detection (frame 0 of a video has its people); live
(`hold=0`) a track is reported from its confirmation on, without delay.

With `overlap` (the default), `run` detects and tracks frame t+1 in a thread while frame t is
adapted, and poses the bodies and writes the sinks in another (LiteRT, OpenCV, PyAV and torch release
the GIL in their heavy calls); the results are those of the serial loop, frame for frame.
"""
from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from metahmr_video.app import interrupts
from metahmr_video.core.profiling import StageTimes
from metahmr_video.core.records import Detection, Frame, PersonBody, TrackedPerson
from metahmr_video.sinks.background import BackgroundWriter
from metahmr_video.sources import prefetch
from metahmr_video.track.evidence_gate import EvidenceGate


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


class PostStage(Protocol):
    """A per-track stage on posed people, called in frame order (e.g. `LandmarkDefinitions`)."""

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]: ...
    def reset(self) -> None: ...


class Sink(Protocol):
    def write(self, frame: Frame, people: list[PersonBody]) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunSummary:
    """What a run did: frames, distinct tracks, person-frames, mean reprojection error (pixels),
    fallbacks (diverged adaptations), frames per second, whether it was interrupted or its input
    ended early (truncated, damaged), the files it wrote (set by whoever made the sinks), and notes
    (lines worth telling, such as the focal length and the world found)."""

    frames: int = 0
    tracks: set[int] = field(default_factory=set)
    person_frames: int = 0
    reproj_sum: float = 0.0
    fallbacks: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    truncated: bool = False
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mean_reproj_error(self) -> float:
        return self.reproj_sum / max(self.person_frames, 1)

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)

    def line(self) -> str:
        state = " (interrupted: results kept up to here)" if self.interrupted else ""
        if not self.person_frames:
            return f"{self.frames} frames, no person found, {self.fps:.1f} fps{state}"
        return (f"{self.frames} frames, {len(self.tracks)} tracks, {self.person_frames} person-frames, "
                f"mean reprojection error {self.mean_reproj_error:.1f} px, {self.fallbacks} fallbacks, "
                f"{self.fps:.1f} fps{state}")


class Pipeline:
    """Wires the stages; `poser` (e.g. `BodyPoser(body)`) is called on the
    smoothed people: it poses the body model with their smoothed parameters (joints, keypoints and,
    when a sink needs them, vertices), so that stored joints match stored parameters;
    `definitions` (e.g. `LandmarkDefinitions`) then gives the posed people's landmarks MediaPipe's
    definitions, per track. `hold`: frames
    of output delay that let a track be reported from its first detection (see the module
    docstring; 0 for live sources). overlap: stages in threads (see the module docstring). times: a
    `StageTimes` that each stage's calls are added to (None: not timed). gate: an `EvidenceGate`
    that holds back the people of tracks whose bodies do not explain their 2D evidence (None: all)."""

    def __init__(self, detector: Detector, tracker, adapter, smoother: Smoother,
                 poser: Callable | None = None, hold: int = 0, overlap: bool = True,
                 times: StageTimes | None = None, definitions: PostStage | None = None,
                 gate: EvidenceGate | None = None) -> None:
        self.detector, self.tracker, self.adapter, self.smoother, self.poser = detector, tracker, adapter, smoother, poser
        self.definitions, self.gate = definitions, gate
        self.hold = max(0, int(hold))
        self.overlap, self.times = overlap, times
        self._alive: set[int] = set()
        self._confirmed: set[int] = set()
        self._pending: deque[tuple[Frame, list[PersonBody]]] = deque()

    def reset(self) -> None:
        """Forget per-video state (tracks, filters, held frames); models stay loaded."""
        for stage in (self.detector, self.tracker, self.adapter, self.smoother, self.definitions, self.gate):
            if stage is not None:
                stage.reset()
        self._alive, self._confirmed = set(), set()
        self._pending.clear()

    def _section(self, stage: str, frame: Frame):
        return self.times.section(stage, frame.index) if self.times is not None else contextlib.nullcontext()

    def perceive(self, frame: Frame) -> list[TrackedPerson]:
        """Detect and track one frame (the tracker's predictions are the detector's hints)."""
        if self.times is not None:
            self.times.start(frame.index)
        with self._section("detect", frame):
            detections = self.detector.detect(frame, hints=self.tracker.predictions(), full=None)
        with self._section("track", frame):
            return self.tracker.update(detections, frame.image, tentative=self.hold > 0, time_s=frame.time_s)

    def bodies(self, frame: Frame, tracked: list[TrackedPerson]) -> list[tuple[Frame, list[PersonBody]]]:
        """Adapt and smooth a frame's tracked people; returns the frames whose people are final
        (this one when `hold` is 0, else the one `hold` frames back), not yet posed by `poser`."""
        self._confirmed.update(t.track_id for t in tracked if t.confirmed)
        with self._section("adapt", frame):
            bodies = self.adapter(frame, tracked)
            if self.gate is not None:
                self.gate.observe(bodies)
        with self._section("smooth", frame):
            alive = {t.track_id for t in tracked}
            self.smoother.forget(self._alive - alive)
            self._alive = alive
            self._pending.append((frame, self.smoother(bodies)))
        return [self._release() for _ in range(len(self._pending) - self.hold)]

    def mesh(self, frame: Frame, people: list[PersonBody]) -> list[PersonBody]:
        """`poser`, then `definitions`, on a final frame's people (in frame order)."""
        if self.poser is None:
            return people
        with self._section("mesh", frame):
            people = self.poser(people)
            return self.definitions(people) if self.definitions is not None else people

    def step(self, frame: Frame) -> list[tuple[Frame, list[PersonBody]]]:
        """Process one frame; returns the frames whose people are final, with their smoothed
        people: this frame when `hold` is 0, else the frame `hold` frames back (none at first)."""
        return [(f, self.mesh(f, p)) for f, p in self.bodies(frame, self.perceive(frame))]

    def still(self, frame: Frame) -> list[PersonBody]:
        """The people of one still image (a photo, independent of any other): a full search at
        the image's own size, no tracking or smoothing; ids 1..N from left to right."""
        self.reset()
        min_score = float(getattr(getattr(self.tracker, "config", None), "min_score", 0.0))
        found = [d for d in self.detector.detect(frame, full=True) if d.score >= min_score and np.isfinite(d.box).all()]
        people = [TrackedPerson(i + 1, d) for i, d in enumerate(sorted(found, key=lambda d: float(d.box[0])))]
        return self.mesh(frame, self.adapter(frame, people))

    def flush(self) -> list[tuple[Frame, list[PersonBody]]]:
        """The held frames, at the end of the input (tracks still tentative are left out)."""
        return [(f, self.mesh(f, p)) for f, p in self._flush()]

    def _flush(self) -> list[tuple[Frame, list[PersonBody]]]:
        return [self._release() for _ in range(len(self._pending))]

    def _release(self) -> tuple[Frame, list[PersonBody]]:
        frame, people = self._pending.popleft()
        # A track tentative when this frame was processed is confirmed by now, or was a false start;
        # the gate's verdict on its body is in by now too (offline `hold` covers its first frames).
        return frame, [p for p in people if p.track_id in self._confirmed
                       and (self.gate is None or self.gate.shown(p.track_id))]

    def _perceived(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, list[TrackedPerson]]]:
        for frame in frames:
            yield frame, self.perceive(frame)

    def run(self, frames: Iterable[Frame], sinks: list[Sink], progress: Callable[[RunSummary], None] | None = None,
            foreground: Sequence[Sink] = ()) -> RunSummary:
        """Stream `frames` through the stages into `sinks`. Ctrl-C (KeyboardInterrupt) ends the run
        cleanly with summary.interrupted; every sink is closed whatever happens. `foreground`
        sinks (e.g. a window: GUI toolkits want one thread) are written in the calling thread; they
        and `sinks` get the same posed records (posed once: in the calling thread when there is a
        foreground sink, else beside the writing, in its thread)."""
        self.reset()
        summary = RunSummary()
        start = time.perf_counter()
        perceived = self._perceived(frames)
        if self.overlap:
            perceived = prefetch(perceived, depth=1)

        def write(frame: Frame, people: list[PersonBody]) -> None:
            if not foreground:
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

        def emit(ready: list[tuple[Frame, list[PersonBody]]]) -> None:
            for frame, people in ready:
                if foreground:
                    people = self.mesh(frame, people)
                for sink in foreground:
                    sink.write(frame, people)
                (writer.write if writer is not None else write)(frame, people)
                summary.frames += 1
                summary.person_frames += len(people)
                summary.tracks.update(p.track_id for p in people)
                summary.reproj_sum += float(np.sum([p.reproj_error for p in people if np.isfinite(p.reproj_error)]))
                summary.fallbacks += sum(p.fallback for p in people)
                summary.seconds = time.perf_counter() - start
                if progress is not None:
                    progress(summary)

        try:
            for frame, tracked in perceived:
                if interrupts.requested():  # a Ctrl-C that a library swallowed
                    raise KeyboardInterrupt
                emit(self.bodies(frame, tracked))
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            try:
                if self.overlap:
                    perceived.close()  # stops the detect + track thread
                emit(self._flush())
            finally:
                summary.seconds = time.perf_counter() - start
                if writer is not None:
                    writer.close()
                else:
                    close()
        return summary
