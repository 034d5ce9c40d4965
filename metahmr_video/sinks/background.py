"""Writing results from a background thread, so that drawing and encoding overlap the next frame's
adaptation (torch, PyAV and OpenCV release the GIL in their heavy calls)."""
from __future__ import annotations

import queue
import threading
from typing import Callable

from metahmr_video.core.records import Frame, PersonBody

_END = object()


class BackgroundWriter:
    """Calls `write(frame, people)` for every frame, in order, in one worker thread, holding at most
    `depth` frames (the caller waits while it is full). `close()` writes what is queued, stops the
    thread, then calls `close` in the caller's thread. An exception raised by `write` is re-raised
    by the next `write` or by `close` (later frames are then dropped).

        writer = BackgroundWriter(lambda f, p: sink.write(f, p), sink.close)
    """

    def __init__(self, write: Callable[[Frame, list[PersonBody]], None], close: Callable[[], None],
                 depth: int = 4) -> None:
        self._write, self._close = write, close
        self._queue: "queue.Queue[object]" = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None  # to raise in the caller's thread
        self._failed = False  # once set, later frames are dropped
        self._thread = threading.Thread(target=self._work, name="writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if not self._failed:
                try:
                    self._write(*item)
                except BaseException as exc:  # forwarded to the caller
                    self._error, self._failed = exc, True

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, frame: Frame, people: list[PersonBody]) -> None:
        self._raise()
        while True:
            try:
                self._queue.put((frame, people), timeout=0.1)
                return
            except queue.Full:
                self._raise()

    def close(self) -> None:
        """Finish the queued frames, stop the thread, then `close` (called even if a write failed)."""
        try:
            self._queue.put(_END)
            self._thread.join()
        finally:
            try:
                self._close()
            finally:
                self._raise()
