"""Still images: one file, or a folder of files in natural (human) order."""

from __future__ import annotations

import os
from typing import Iterator

import cv2
import numpy as np

from metahmr_video.core.errors import InputError
from metahmr_video.core.paths import natural_key
from metahmr_video.core.records import Frame

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file as RGB uint8 H x W x 3 (EXIF orientation applied). Raises InputError."""
    path = str(path)
    if not os.path.isfile(path):
        raise InputError(f"image not found: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"image file is empty (0 bytes): {path}")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"not a readable image (corrupt or unsupported format): {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageSource:
    """A single image as a one-frame source (index 0, time 0).

        frame = next(iter(ImageSource("person.jpg")))
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self._image = read_image(self.path)
        self.fps = 0.0

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(index=0, time_s=0.0, image=self._image)


class ImageFolderSource:
    """The images of a folder in natural order ("f2.png" before "f10.png"), read one at a time.

    time_s = index / fps (fps defaults to 30, the folder carries no timing).

        for frame in ImageFolderSource("frames/", fps=25):
            ...
    """

    def __init__(self, folder: str | os.PathLike, fps: float = 30.0) -> None:
        self.folder = str(folder)
        if not os.path.isdir(self.folder):
            raise InputError(f"image folder not found: {self.folder}")
        names = [n for n in os.listdir(self.folder) if n.lower().endswith(IMAGE_EXTENSIONS)]
        if not names:
            raise InputError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {self.folder}")
        self.paths = [os.path.join(self.folder, n) for n in sorted(names, key=natural_key)]
        self.fps = float(fps)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for i, p in enumerate(self.paths):
            yield Frame(index=i, time_s=i / self.fps if self.fps else 0.0, image=read_image(p))
