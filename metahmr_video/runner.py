"""Builds the pipeline from a `Config` once per process and runs it on videos, folders or a webcam."""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch

from metahmr_video.adapt import Adapter, Fitter, attach_vertices
from metahmr_video.camera import default_focal, intrinsics
from metahmr_video.config import Config, config_dict
from metahmr_video.detect import MultiPersonDetector
from metahmr_video.errors import InputError
from metahmr_video.pipeline import Pipeline, RunSummary
from metahmr_video.profiling import StageTimes
from metahmr_video.sinks import NpzSink, OverlayVideoSink, body_faces
from metahmr_video.smooth import TrackSmoother
from metahmr_video.track import Tracker

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")


def resolve_device(name: str) -> str:
    """'cpu', 'cuda' (error when absent) or 'auto' (CUDA when present)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available on this machine (use --device cpu)")
    if name not in ("cpu", "cuda"):
        raise InputError(f"--device must be cpu, cuda or auto, got {name!r}")
    return name


def list_inputs(path: str | Path) -> list[Path]:
    """Videos to process for a path: the file itself, or a folder's videos (sorted). A folder with
    images and no videos is one image sequence. Raises InputError when there is nothing to do."""
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
    if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in files):
        return [path]
    raise InputError(f"{path}: folder holds no videos or images")


class Runner:
    """Loads detector, tracker, fitter and body once; `process` runs one input into `out_dir`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        torch.set_num_threads(max(1, int(config.threads)))
        a = config.adapt
        # first: a bad checkpoint fails fast
        self.fitter = Fitter.load(a.checkpoint, device=self.device, max_batch=a.max_batch)
        self.steps = self.fitter.resolve_steps(a.steps)
        self.detector = MultiPersonDetector(config.detector)
        self.tracker = Tracker(config.tracker)
        self.smoother = TrackSmoother(config.smoothing)
        self.body = self.fitter.body

    @functools.cached_property
    def faces(self) -> np.ndarray:
        """Outward faces of the fitting mesh, for drawing (computed once per process)."""
        return body_faces(self.body)

    def pipeline(self, focal: float, times: StageTimes | None = None) -> Pipeline:
        """The stages for one input; `times` (optional) collects per-stage timings, the detector's
        own parts (landmarks, pose detector, HOG) included."""
        o = self.config.output
        adapter = Adapter(self.fitter, dataclasses.replace(self.config.adapt, steps=self.steps), focal=focal)
        mesher = functools.partial(attach_vertices, self.body) if (o.overlay or o.vertices) else None
        self.detector.times = times
        return Pipeline(self.detector, self.tracker, adapter, self.smoother, mesher, overlap=self.config.overlap,
                        times=times)

    def meta(self, source_name: str, width: int, height: int, fps: float, focal: float) -> dict:
        body = self.body
        return dict(body_model=body.name, joint_names=list(getattr(body, "bone_names", getattr(body, "joint_names", []))),
                    shape_names=list(getattr(body, "shape_names", [])), parents=list(getattr(body, "parents", [])),
                    keypoint_layout="mediapipe_33", fps=fps, image_size=[width, height],
                    intrinsics=intrinsics(width, height, focal).tolist(), source=source_name,
                    steps=self.steps,
                    config=config_dict(self.config))

    def process(self, frames, name: str, width: int, height: int, fps: float, out_dir: Path,
                progress=None, times: StageTimes | None = None) -> RunSummary:
        """Run `frames` (an iterable of Frame of size width x height) into `out_dir/<name>.npz`
        (and `<name>_overlay.mp4` when enabled); `times`: see `pipeline`."""
        o = self.config.output
        focal = self.config.adapt.focal or default_focal(width, height)
        sinks = []
        if o.npz:
            sinks.append(NpzSink(out_dir / f"{name}.npz", self.meta(name, width, height, fps, focal),
                                 flush_every_s=o.flush_every_s, keep_vertices=o.vertices))
        if o.overlay:
            sinks.append(OverlayVideoSink(out_dir / f"{name}_overlay.mp4", fps, self.faces, focal, (width / 2, height / 2),
                                          with_side_view=o.side_view))
        return self.pipeline(focal, times).run(frames, sinks, progress=progress)


def result_name(path: Path) -> str:
    """The name of an input's results: OUT/<name>.npz (a video's stem, an image folder's name)."""
    return path.stem if path.is_file() else path.name


def export_video(out_dir: Path, name: str, formats: list[str], rig: str | None = None) -> list[Path]:
    """Export out_dir/<name>.npz's tracks as animation files beside it (`run --export`); the paths."""
    from metahmr_video.sinks.export import export

    return [p for fmt in formats for p in export(out_dir / f"{name}.npz", fmt, out_dir, rig=rig)]


def run_input(runner: Runner, path: Path, out_dir: Path, show_progress: bool = True,
              times: StageTimes | None = None) -> RunSummary:
    """Open one input (video file, or image folder/file), run it, and return its summary; `times`
    (optional) collects per-stage timings, decoding included."""
    import itertools

    from tqdm import tqdm

    from metahmr_video.sources import open_source, prefetch

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
    if getattr(source, "truncated", False):
        print(f"metahmr-video: warning: {path} is truncated or damaged; results cover the {summary.frames} "
              "frames that decoded")
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
                     flush_every_s=o.flush_every_s, keep_vertices=o.vertices)]
    times = times if times is not None or not window else StageTimes()
    shown = [LiveWindow(functools.partial(attach_vertices, runner.body), runner.faces, focal, (width / 2, height / 2),
                        times)] if window else []
    try:
        return runner.pipeline(focal, times).run(iter(source), sinks, foreground=shown)
    finally:
        if hasattr(source, "close"):
            source.close()
