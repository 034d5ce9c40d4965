"""Overlay PNG: a still image with each person's mesh drawn over it (one file per image)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from metahmr_video.core.errors import InputError
from metahmr_video.core.paths import writable_folder
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.sinks.render import render_meshes, track_color


class OverlayImageSink:
    """Writes `path` (PNG) with the meshes of the people written, over the frame's image.

    faces: [F, 3] outward-wound faces of the mesh in `PersonBody.vertices`; focal/center: the
    camera's pixels.
    """

    def __init__(self, path: str | Path, faces: np.ndarray, focal: float, center: tuple[float, float]) -> None:
        self.path = Path(path)
        writable_folder(self.path.parent)
        self.faces, self.focal, self.center = faces, focal, center

    def write(self, frame: Frame, people: list[PersonBody]) -> None:
        meshes = [(p.vertices, track_color(p.track_id)) for p in people if p.vertices is not None]
        image = render_meshes(frame.image, meshes, self.faces, self.focal, self.center)
        if not cv2.imwrite(str(self.path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise InputError(f"{self.path}: cannot write the overlay image")

    def close(self) -> None:
        pass
