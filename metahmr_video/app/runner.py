"""Builds the pipeline from a `Config` once per process and runs it on videos, folders or a webcam."""
from __future__ import annotations

import functools
import gc
import itertools
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from metahmr_video.adapt import Adapter, BodyPoser, Fitter
from metahmr_video.body import AnnyBody, load_body
from metahmr_video.core.camera import default_focal, intrinsics
from metahmr_video.app.config import Config, config_dict
from metahmr_video.detect import MultiPersonDetector
from metahmr_video.core.errors import InputError
from metahmr_video.app.pipeline import Pipeline, RunSummary
from metahmr_video.core.profiling import StageTimes
from metahmr_video.core.records import Frame
from metahmr_video.sinks import NpzSink, OverlayVideoSink, body_faces
from metahmr_video.smooth import LandmarkDefinitions, TrackSmoother
from metahmr_video.track import EvidenceGate, Tracker
from metahmr_video.world import WorldEstimator, focal_from_edges

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")


GUESSED = "image diagonal"  # a focal length nobody measured (`Runner.focal`)


def resolve_device(name: str) -> str:
    """'cpu', 'cuda' (error when absent) or 'auto' (CUDA when present)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available on this machine (use --device cpu)")
    if name not in ("cpu", "cuda"):
        raise InputError(f"--device must be cpu, cuda or auto, got {name!r}")
    return name


def is_numbered_sequence(names: list[str]) -> bool:
    """Whether image file names are the frames of one sequence: two or more, one extension, one
    prefix followed by a number (`frame_0001.png`, `frame_0002.png`, ...; `0001.jpg`, ...), the
    numbers evenly spaced (every frame, or every n-th)."""
    import re

    if len(names) < 2:
        return False
    parts = [re.fullmatch(r"(.*?)(\d+)(\.[^.]+)", n) for n in names]
    if not all(parts) or len({(m.group(1), m.group(3).lower()) for m in parts}) != 1:
        return False
    numbers = sorted(int(m.group(2)) for m in parts)
    steps = {b - a for a, b in zip(numbers, numbers[1:])}
    return len(steps) == 1 and steps != {0}


def list_inputs(path: str | Path, images: str = "auto") -> list[Path]:
    """What to process for a path, each item run on its own: a video file; an image file (a photo);
    a folder's videos (sorted); or, for a folder of images, the folder itself (one image sequence,
    a video) or each image (independent photos). `images`: "sequence", "photos", or "auto":
    a sequence when the names are numbered frames (`is_numbered_sequence`), else photos.
    Raises InputError when there is nothing to do."""
    from metahmr_video.core.paths import natural_key
    from metahmr_video.sources import IMAGE_EXTENSIONS

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file())
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    if videos:
        return videos
    stills = sorted((p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: natural_key(p.name))
    if not stills:
        raise InputError(f"{path}: folder holds no videos or images")
    if images == "sequence" or (images == "auto" and is_numbered_sequence([p.name for p in stills])):
        return [path]
    return stills


def is_photo(path: Path) -> bool:
    """An image file: processed as an independent photo."""
    from metahmr_video.sources import IMAGE_EXTENSIONS

    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


class Runner:
    """Builds every stage once from a frozen `Config`; `process` runs one input into `out_dir`.
    The settings read per input (`output`, `overlap`, `definitions`, and `adapt`'s steps and
    focal) may change between inputs by replacing `config` (e.g. `config.override`); the models,
    detector, tracker and smoother keep the settings they were built with."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        threads = max(1, int(config.threads))
        torch.set_num_threads(threads)
        a = config.adapt
        # first: a bad body model file or checkpoint fails fast
        body = None if a.body == "anny" else load_body(a.body)
        self.fitter = Fitter.load(a.checkpoint, device=self.device, body=body, max_batch=a.max_batch)
        self.detector = MultiPersonDetector(config.detector)
        self.tracker = Tracker(config.tracker)
        self.smoother = TrackSmoother(config.smoothing, points=False)  # the BodyPoser re-poses them
        self.body = self.fitter.body
        # Process-wide, like torch's threads: numpy's and scipy's BLAS (loaded by now) on as many
        # threads, and the models' objects out of the garbage collector's way (its full passes
        # walked them several times a second: 4 % of a crowded run's processor time).
        threadpool_limits(threads, user_api="blas")
        gc.collect()
        gc.freeze()

    @property
    def steps(self) -> int:
        """TTO steps per person and frame (`adapt.steps`, or the checkpoint's default)."""
        return self.fitter.resolve_steps(self.config.adapt.steps)

    @functools.cached_property
    def faces(self) -> np.ndarray:
        """Outward faces of the fitting mesh, for drawing (computed once per process)."""
        return body_faces(self.body)

    def pipeline(self, focal: float, live: bool = False, times: StageTimes | None = None,
                 photo: bool = False, vertices: bool = False) -> Pipeline:
        """The stages for one input at this focal length (pixels). Offline (not `live`) the output
        is held back so that each track is reported from its first detection (`Pipeline.hold`) and
        only once its first bodies explain its 2D evidence (`EvidenceGate`; off at `adapt.steps` 0
        and for SMPL/SMPL-X bodies).
        `times` (optional) collects per-stage timings, the detector's own parts (landmarks, pose
        detector, HOG) included. `photo`: every person gets `AdaptConfig.photo_steps` (no frame
        budget, and no next frame to carry the adaptation to), the landmark start
        (`AdaptConfig.landmark_start`), and no landmark definitions (learned from one frame they are
        noise: 112 -> 118 mm on single frames with motion-capture truth, FACTS). `vertices`: pose
        the meshes too (for a foreground sink that draws them; the overlay and `output.vertices` ask
        for them anyway)."""
        o = self.config.output
        a = self.config.adapt
        adapter = Adapter(self.fitter, a.for_photo() if photo else a, focal=focal)
        poser = BodyPoser(self.body, vertices=vertices or o.overlay or o.vertices)
        tc = self.tracker.config
        # its thresholds are for fitted Anny bodies (SMPL's landmarks approximate MediaPipe's: a fit
        # leaves more unexplained, and no threshold has been measured for them)
        gate = tc.evidence.enabled and self.steps > 0 and isinstance(self.body, AnnyBody)
        # offline, a frame leaves once its tracks are confirmed and the gate has judged their first bodies
        hold = 0 if live else max(tc.min_hits, tc.evidence.frames if gate else 1) - 1
        self.detector.times = times
        return Pipeline(self.detector, self.tracker, adapter, self.smoother, poser, hold=hold,
                        overlap=self.config.overlap, times=times,
                        definitions=None if photo else LandmarkDefinitions(self.config.definitions),
                        gate=EvidenceGate(tc.evidence) if gate else None)

    def meta(self, source_name: str, width: int, height: int, fps: float, focal: float,
             focal_from: str = "config") -> dict:
        body = self.body
        model_file = dict(body_model_path=str(body.model_path), body_model_id=body.model_id) \
            if body.model_path is not None else {}
        return dict(body_model=body.name, **model_file, joint_names=list(body.joint_names),
                    shape_names=list(body.shape_names), parents=list(body.parents),
                    keypoint_layout="mediapipe_33", fps=fps, image_size=[width, height],
                    intrinsics=intrinsics(width, height, focal).tolist(), focal_from=focal_from, source=source_name,
                    steps=self.steps,
                    config=config_dict(self.config))

    def world(self, width: int, height: int, focal: float, focal_from: str = "config") -> WorldEstimator | None:
        """A video's world estimator (`config.world`), or None when it is off."""
        w = self.config.world
        return WorldEstimator(intrinsics(width, height, focal).numpy(), w, focal_known=focal_from != GUESSED) \
            if w.enabled else None

    def sinks_for(self, name: str, out_dir: Path, width: int, height: int, fps: float, focal: float,
                  photo: bool = False, focal_from: str = "config") -> list:
        """The sinks of one input, the one place that names its output files: `out_dir/<name>.npz`
        (when `output.npz`) and the overlay, `<name>_overlay.mp4` for a video or `<name>_overlay.png`
        for a photo (when `output.overlay`). Sizes in pixels; fps 0 for a photo."""
        from metahmr_video.sinks import OverlayImageSink

        o = self.config.output
        sinks = []
        world = None if photo else self.world(width, height, focal, focal_from)
        if o.npz:
            sinks.append(NpzSink(out_dir / f"{name}.npz", self.meta(name, width, height, fps, focal, focal_from),
                                 flush_every_s=o.flush_every_s, keep_vertices=o.vertices, world=world))
        if o.overlay and photo:
            sinks.append(OverlayImageSink(out_dir / f"{name}_overlay.png", self.faces, focal, (width / 2, height / 2)))
        elif o.overlay:
            sinks.append(OverlayVideoSink(out_dir / f"{name}_overlay.mp4", fps, self.faces, focal, (width / 2, height / 2),
                                          with_side_view=o.side_view, world=world, feed_world=not o.npz))
        return sinks

    def focal(self, first: Frame | None, width: int, height: int) -> tuple[float, str]:
        """A video's focal length (pixels) and where it comes from: the config's (`adapt.focal`),
        else its first frame's straight edges (`world.focal_from_edges`), else the image diagonal."""
        if self.config.adapt.focal:
            return float(self.config.adapt.focal), "config"
        if first is not None and self.config.world.enabled and self.config.world.focal_from_edges:
            f = focal_from_edges(first.image)
            if f is not None:
                return f, "edges"
        return default_focal(width, height), GUESSED

    def process(self, frames, name: str, width: int, height: int, fps: float, out_dir: Path,
                progress=None, times: StageTimes | None = None) -> RunSummary:
        """Run `frames` (an iterable of Frame of size width x height) into `sinks_for(name, ...)`;
        the summary lists the files written and, in its notes, the focal length and the world
        found. `times`: see `pipeline`."""
        frames = iter(frames)
        first = next(frames, None)
        focal, focal_from = self.focal(first, width, height)
        sinks = self.sinks_for(name, out_dir, width, height, fps, focal, focal_from=focal_from)
        summary = self.pipeline(focal, times=times).run(itertools.chain([first] if first else [], frames), sinks,
                                                        progress=progress)
        summary.outputs = [s.path for s in sinks]
        summary.notes.append(f"focal {focal:.0f} px ({focal_from})")
        world = next((s.world for s in sinks if isinstance(s, NpzSink) and s.world is not None), None)
        if world is not None:
            found = world.estimate()
            summary.notes.append(f"world: {found.summary()} (up from {world.source})" if found is not None
                                 else "world: no ground found (too few upright people)")
            if world.moving_from is not None:
                summary.notes.append(f"the camera moves from frame {world.moving_from}: the world is the one "
                                     "of the frames before")
        return summary

    def photo(self, path: Path, out_dir: Path) -> RunSummary:
        """One image as an independent photo (native size, no tracking or smoothing) into
        `sinks_for(<stem>, ..., photo=True)`: `<stem>.npz` (one frame; fps 0), `<stem>_overlay.png`."""
        import time

        from metahmr_video.sources import read_image

        start = time.perf_counter()
        frame = Frame(index=0, time_s=0.0, image=read_image(path))
        focal = self.config.adapt.focal or default_focal(frame.width, frame.height)
        sinks = self.sinks_for(path.stem, out_dir, frame.width, frame.height, 0.0, focal, photo=True)
        try:
            people = self.pipeline(focal, photo=True).still(frame)
            for sink in sinks:
                sink.write(frame, people)
        finally:
            for sink in sinks:
                sink.close()
        return RunSummary(frames=1, tracks={p.track_id for p in people}, person_frames=len(people),
                          reproj_sum=float(sum(p.reproj_error for p in people if np.isfinite(p.reproj_error))),
                          fallbacks=sum(p.fallback for p in people), seconds=time.perf_counter() - start,
                          outputs=[s.path for s in sinks])


def result_name(path: Path) -> str:
    """The name of an input's results: OUT/<name>.npz (a video's stem, an image folder's name)."""
    return path.stem if path.is_file() else path.name


def export_video(out_dir: Path, name: str, formats: list[str], rig: str | None = None,
                 frame: str = "world") -> list[Path]:
    """Export out_dir/<name>.npz's tracks as animation files beside it (`run --export`) in `frame`
    ("world" or "camera"); the paths."""
    from metahmr_video.export import export

    return [p for fmt in formats for p in export(out_dir / f"{name}.npz", fmt, out_dir, rig=rig, frame=frame)]


def run_input(runner: Runner, path: Path, out_dir: Path, show_progress: bool = True,
              times: StageTimes | None = None) -> RunSummary:
    """Run one input of `list_inputs`: a photo (image file), or a video file / image sequence
    folder; returns its summary (`truncated` when a video ended early: its frames are kept).
    `times` (optional) collects per-stage timings, decoding included."""
    import itertools

    from tqdm import tqdm

    from metahmr_video.sources import open_source, prefetch

    if is_photo(path):
        return runner.photo(path, out_dir)
    source = open_source(str(path))
    frames = iter(prefetch(source if times is None else times.timed(source, "decode")))
    first = next(frames, None)
    if first is None:
        raise InputError(f"{path}: no frame could be decoded")
    fps = float(getattr(source, "fps", 0.0) or 30.0)
    total = len(source) if hasattr(source, "__len__") else None
    bar = tqdm(total=total or None, unit="frame", desc=path.name, disable=not show_progress, leave=False)

    def progress(s: RunSummary) -> None:
        bar.update(1)
        bar.set_postfix(fps=f"{s.fps:.1f}", people=s.person_frames)

    try:
        summary = runner.process(itertools.chain([first], frames), result_name(path),
                                 first.width, first.height, fps, out_dir, progress=progress, times=times)
    finally:
        bar.close()
    summary.truncated = bool(getattr(source, "truncated", False))
    return summary


def run_webcam(runner: Runner, source, out_dir: Path, window: bool = True, name: str = "webcam",
               times: StageTimes | None = None) -> RunSummary:
    """Run a live source (e.g. `WebcamSource`) into `out_dir/<name>.npz`; with `window`, show each
    frame with the meshes drawn over it and live frames per second and latency (OpenCV window; q
    or Esc ends). `times` (optional) collects per-stage timings. Ctrl-C/SIGTERM end cleanly."""
    from metahmr_video.sinks.window import LiveWindow

    width, height = int(source.width), int(source.height)
    focal = runner.config.adapt.focal or default_focal(width, height)
    o = runner.config.output
    sinks = [NpzSink(out_dir / f"{name}.npz", runner.meta(name, width, height, float(source.fps or 30.0), focal),
                     flush_every_s=o.flush_every_s, keep_vertices=o.vertices,
                     world=runner.world(width, height, focal, "config" if runner.config.adapt.focal else GUESSED))]
    times = times if times is not None or not window else StageTimes()
    shown = [LiveWindow(runner.faces, focal, (width / 2, height / 2), times)] if window else []
    try:
        return runner.pipeline(focal, live=True, times=times, vertices=window).run(iter(source), sinks, foreground=shown)
    finally:
        if hasattr(source, "close"):
            source.close()
