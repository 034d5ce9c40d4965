"""A live camera through OpenCV's VideoCapture."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Optional

import cv2

from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Frame


class WebcamSource:
    """Frames from camera `index` (RGB uint8; time_s = seconds since the camera opened).

    Stops when the camera stops delivering, after `max_frames`, or on `close()`.
    `capture_factory` builds the capture object (default `cv2.VideoCapture`); tests pass a fake.

        with WebcamSource(0) as cam:
            for frame in cam: ...
    """

    def __init__(
        self,
        index: int = 0,
        width: Optional[int] = None,
        height: Optional[int] = None,
        fps: Optional[float] = None,
        max_frames: Optional[int] = None,
        capture_factory: Callable[[int], Any] = cv2.VideoCapture,
    ) -> None:
        self.index = int(index)
        self.max_frames = max_frames
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)  # OpenCV's own notices of a failed open: ours below says it in one line
        try:
            cap = capture_factory(self.index)
        except Exception as e:  # some backends raise instead of returning a closed capture
            raise InputError(f"cannot open webcam {self.index}: {e}") from e
        finally:
            cv2.setLogLevel(level)
        if cap is None or not cap.isOpened():
            raise InputError(f"cannot open webcam {self.index} (no such camera, or it is busy / not permitted)")
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if fps:
            cap.set(cv2.CAP_PROP_FPS, float(fps))
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise InputError(f"webcam {self.index} opened but delivers no frames")
        self._cap = cap
        self._first = first
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self._t0 = time.monotonic()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while self._cap is not None and (self.max_frames is None or index < self.max_frames):
            if self._first is not None:
                bgr, self._first = self._first, None
                ok = True
            else:
                ok, bgr = self._cap.read()
            if not ok or bgr is None:
                break
            t = time.monotonic() - self._t0
            if bgr.ndim == 2:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            yield Frame(index=index, time_s=t, image=rgb)
            index += 1

    def close(self) -> None:
        """Release the camera (safe to call twice)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "WebcamSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
