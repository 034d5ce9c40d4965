"""Shared fixtures: body models are built once per test session (Anny fills its cache on first use);
the real example clip runs once through the whole pipeline, and several tests read that run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # small batches; more threads only add contention on 2 cores

MEDIA = Path(__file__).resolve().parent.parent / "examples" / "media"
CLIP = MEDIA / "pedestrians.mp4"


@pytest.fixture(scope="session", autouse=True)
def one_anny_parse():
    """Every Anny model the session builds in this process (default, full mesh, rigs) from one parse
    of its assets, as `run` does (`anny_build_session`): a cold cache parses once, not per model."""
    from metahmr_video.body.anny_body import anny_build_session

    with anny_build_session():
        yield


@pytest.fixture(scope="session")
def anny_body():
    from metahmr_video.body import AnnyBody
    return AnnyBody()


@pytest.fixture(scope="session")
def runner():
    """The CLI's Runner with the default config, 3 TTO steps (models loaded once per session)."""
    from metahmr_video.app.config import Config, override
    from metahmr_video.app.runner import Runner

    return Runner(override(Config(), {"adapt.steps": 3}))


class RecordingSmoother:
    """Wraps a smoother and keeps every record that went in (`raw`)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.raw: list = []

    def __call__(self, people):
        self.raw += people
        return self.inner(people)

    def reset(self) -> None:
        self.inner.reset()

    def forget(self, track_ids: set[int]) -> None:
        self.inner.forget(track_ids)


@dataclass
class ClipRun:
    """The whole example clip (100 frames, 10 fps, 768x576) run as `metahmr-video run` does:
    results file, summary, the adapted (raw) bodies and the smoothed ones as the sinks get them
    (posed from the smoothed parameters), and the focal length (pixels)."""

    npz: Path
    summary: object
    raw: list
    smoothed: list
    focal: float
    fps: float


@pytest.fixture(scope="session")
def clip_run(runner, tmp_path_factory) -> ClipRun:
    from metahmr_video.core.camera import default_focal
    from metahmr_video.sinks import NpzSink
    from metahmr_video.sources import VideoSource

    src = VideoSource(CLIP)
    focal = default_focal(src.width, src.height)
    pipe = runner.pipeline(focal)
    rec = RecordingSmoother(pipe.smoother)
    pipe.smoother = rec
    npz = tmp_path_factory.mktemp("clip") / "pedestrians.npz"
    sink = NpzSink(npz, runner.meta("pedestrians", src.width, src.height, src.fps, focal))
    written = Collect()
    summary = pipe.run(iter(src), [sink, written])
    return ClipRun(npz, summary, rec.raw, written.people, focal, src.fps)


class Collect:
    """A sink that keeps every record it is given."""

    def __init__(self) -> None:
        self.people: list = []

    def write(self, frame, people) -> None:
        self.people += people

    def close(self) -> None:
        pass

    def frames_by_track(self) -> dict[int, list[int]]:
        """Track id -> the frame indices written for it, in order."""
        seen: dict[int, list[int]] = {}
        for p in self.people:
            seen.setdefault(p.track_id, []).append(p.frame_index)
        return seen
