"""Frame sources: video files/URLs (PyAV), image files and folders, webcams (OpenCV).

Each source is an iterable of `Frame` (RGB uint8, index, time in seconds), decoded lazily.

    from metahmr_video.sources import open_source
    for frame in open_source("clip.mp4"):       # or "frames/", "photo.jpg", 0 (webcam)
        print(frame.index, frame.time_s, frame.image.shape)
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Iterable, Iterator, Union

from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Frame
from metahmr_video.sources.images import IMAGE_EXTENSIONS, ImageFolderSource, ImageSource, read_image
from metahmr_video.sources.video import VideoSource, apply_rotation
from metahmr_video.sources.webcam import WebcamSource

FrameSource = Union[VideoSource, ImageSource, ImageFolderSource, WebcamSource]

__all__ = [
    "FrameSource", "VideoSource", "ImageSource", "ImageFolderSource", "WebcamSource",
    "open_source", "prefetch", "read_image", "apply_rotation", "IMAGE_EXTENSIONS",
]


def open_source(spec: Union[str, int, os.PathLike], **kwargs: object) -> FrameSource:
    """Pick the source for `spec`: an int or digit string -> webcam index; a folder -> its images;
    an image file -> one frame; anything else (file or URL) -> video. kwargs go to that source."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return WebcamSource(int(spec), **kwargs)  # type: ignore[arg-type]
    path = os.fspath(spec)
    if os.path.isdir(path):
        return ImageFolderSource(path, **kwargs)  # type: ignore[arg-type]
    if path.lower().endswith(IMAGE_EXTENSIONS):
        return ImageSource(path)
    return VideoSource(path, **kwargs)  # type: ignore[arg-type]


_END = object()


def prefetch(frames: Iterable[Frame], depth: int = 8) -> Iterator[Frame]:
    """Decode ahead in a background thread, holding at most `depth` frames. Errors raised by the
    source are re-raised in the consumer; closing the generator stops the thread."""
    q: "queue.Queue[object]" = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def worker() -> None:
        try:
            for f in frames:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as e:  # forwarded to the consumer
            q.put(e)

    th = threading.Thread(target=worker, name="frame-prefetch", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while not q.empty():
            try:
                q.get_nowait()
            except queue.Empty:
                break
        th.join(timeout=2.0)
