"""Overlay MP4: each person's mesh drawn over the frame in its track colour (PyAV encoder)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.errors import InputError
from metahmr_video.sinks.render import render_meshes, side_view, track_color


class OverlayVideoSink:
    """Writes an H.264 (or MPEG-4 Part 2 where libx264 is missing) MP4 of frames with meshes.

    faces: [F, 3] outward-wound faces of the mesh in `PersonBody.vertices`; focal/center: the
    camera's pixels. With `with_side_view`, a side view of the same people is appended on the right,
    levelled on the ground of `world` (a `WorldEstimator`, re-estimated once a second) with a grid
    when it has found one; `feed_world`: this sink gives it the frames (when no other sink does).
    """

    def __init__(self, path: str | Path, fps: float, faces: np.ndarray, focal: float, center: tuple[float, float],
                 with_side_view: bool = False, world=None, feed_world: bool = False) -> None:
        self.path = Path(path)
        self.fps, self.faces, self.focal, self.center = fps, faces, focal, center
        self.with_side_view = with_side_view
        self.world, self.feed_world = world, feed_world
        self._ground: tuple[float, object] | None = None
        self.container = None
        self.stream = None

    def _open(self, width: int, height: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.container = av.open(str(self.path), mode="w")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write the overlay video ({exc.strerror or exc})") from None
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        rate = Fraction(self.fps).limit_denominator(1001)
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height = width + (width % 2), height + (height % 2)
        self.stream.pix_fmt = "yuv420p"

    def write(self, frame: Frame, people: list[PersonBody]) -> None:
        """Draw `people` (those with vertices) over the frame's image and encode it."""
        image, time_s = frame.image, frame.time_s
        if self.world is not None and self.feed_world:
            self.world.observe(frame, people)
        meshes = [(p.vertices, track_color(p.track_id)) for p in people if p.vertices is not None]
        frame = render_meshes(image, meshes, self.faces, self.focal, self.center)
        if self.with_side_view:
            h, w = frame.shape[:2]
            frame = np.concatenate([frame, side_view(meshes, self.faces, (w // 2, h), self.focal,
                                                     self._ground_at(time_s))], axis=1)
        if self.container is None:
            self._open(frame.shape[1], frame.shape[0])
        if frame.shape[0] % 2 or frame.shape[1] % 2:
            frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)))
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            self.container.mux(packet)

    def _ground_at(self, time_s: float):
        """The world's current WorldFrame (or None), re-estimated at most once a second."""
        if self.world is None:
            return None
        if self._ground is None or time_s - self._ground[0] >= 1.0 or time_s < self._ground[0]:
            self._ground = (time_s, self.world.estimate())
        return self._ground[1]

    def close(self) -> None:
        if self.container is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            self.container = None
