"""Video files and streams through PyAV (FFmpeg): frames decoded one at a time."""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from typing import Iterator, Optional

import av
import numpy as np

from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Frame

log = logging.getLogger(__name__)

_URL_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def apply_rotation(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate an H x W x C image counter-clockwise by `degrees` (a multiple of 90, as PyAV's
    `VideoFrame.rotation` reports the container's display matrix); returns a contiguous copy."""
    k = int(round(float(degrees) / 90.0)) % 4
    if k == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=k))


class VideoSource:
    """Iterate the frames of a video file or URL as `Frame`s (RGB uint8, upright).

    Decodes lazily (one frame in memory at a time). `time_s` is the presentation time in seconds
    relative to the stream start; `fps` is the stream's average rate. A file that ends early
    (truncated download, damaged tail) yields the frames that decode, sets `truncated` (for the
    caller to report) and stops; a file with no decodable frame raises `InputError`.

        for frame in VideoSource("clip.mp4"):
            print(frame.index, frame.time_s, frame.image.shape)
    """

    def __init__(self, path: str | os.PathLike, max_frames: Optional[int] = None) -> None:
        self.path = str(path)
        self.max_frames = max_frames
        self.truncated = False
        is_url = self.path.startswith(_URL_PREFIXES)
        if not is_url:
            if not os.path.exists(self.path):
                raise InputError(f"video not found: {self.path}")
            if os.path.isdir(self.path):
                raise InputError(f"expected a video file, got a folder: {self.path}")
            if os.path.getsize(self.path) == 0:
                raise InputError(f"video file is empty (0 bytes): {self.path}")
        container = self._open()
        try:
            if not container.streams.video:
                raise InputError(f"no video stream in {self.path}")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps: float = float(rate) if rate else 0.0
            self.width: int = int(stream.codec_context.width)
            self.height: int = int(stream.codec_context.height)
            self.num_frames: Optional[int] = int(stream.frames) or None
            if self.num_frames is None and stream.duration and self.fps:
                self.num_frames = int(round(float(stream.duration * stream.time_base) * self.fps))
            if self.num_frames is None and container.duration and self.fps:  # e.g. Matroska's header
                self.num_frames = int(round(container.duration / av.time_base * self.fps))
            self.codec: str = stream.codec_context.name
        finally:
            container.close()

    def _open(self) -> "av.container.InputContainer":
        try:
            return av.open(self.path, mode="r", timeout=10.0)
        except av.error.FileNotFoundError:
            raise InputError(f"video not found: {self.path}") from None
        except av.error.InvalidDataError as e:
            raise InputError(
                f"not a readable video (FFmpeg could not parse it; corrupt, truncated or not a video): "
                f"{self.path}"
            ) from e
        except (av.error.FFmpegError, OSError) as e:
            raise InputError(f"cannot open video {self.path}: {e}") from e

    def __len__(self) -> int:
        """Frame count from the container header (may be approximate; 0 when unknown)."""
        n = self.num_frames or 0
        return min(n, self.max_frames) if self.max_frames is not None else n

    def __iter__(self) -> Iterator[Frame]:
        container = self._open()
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = stream.start_time if stream.start_time is not None else None
            tb: Fraction = stream.time_base
            index = 0
            last_t = -1.0
            it = container.decode(stream)
            while self.max_frames is None or index < self.max_frames:
                try:
                    frame = next(it)
                except StopIteration:
                    break
                except (av.error.FFmpegError, EOFError) as e:
                    self.truncated = True
                    log.info("video %s ends early after %d frames (%s); stopping", self.path, index, e)
                    break
                if frame.pts is not None and tb is not None:
                    t = float((frame.pts - (start or 0)) * tb)
                else:
                    t = index / self.fps if self.fps else float(index)
                if t <= last_t:  # broken or missing timestamps: keep time monotonic
                    t = last_t + (1.0 / self.fps if self.fps else 1.0)
                last_t = t
                image = frame.to_ndarray(format="rgb24")
                rot = getattr(frame, "rotation", 0) or 0
                if rot:
                    image = apply_rotation(image, rot)
                yield Frame(index=index, time_s=t, image=image)
                index += 1
            if index == 0:
                raise InputError(f"no frame could be decoded from {self.path} (corrupt or truncated video)")
            if self.num_frames and index < self.num_frames * 0.95 and self.max_frames is None and not self.truncated:
                self.truncated = True
                log.info("video %s: decoded %d of %d frames announced by its header (truncated?)",
                            self.path, index, self.num_frames)
        finally:
            container.close()
