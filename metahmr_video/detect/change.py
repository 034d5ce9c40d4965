"""Has anything changed where nobody is tracked? A cheap check (a small grey copy of the frame
against the one kept when the search for new people last ran) that wakes a resting search as soon
as someone comes in or comes back, instead of at its next scheduled round (E79)."""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np


class ChangeWatch:
    """`remember(image, boxes)` keeps a `long_side`-pixel grey copy of an RGB frame and the people's
    boxes (xyxy pixels) in it; `changed(image, boxes)` is True when more than `min_share` of the copy
    (and at least `min_pixels` of its pixels), outside both frames' boxes grown by `grow` x their
    size, differs by more than `threshold` grey levels.

        watch.remember(frame, [p.box for p in people])   # when the search ran
        if watch.changed(next_frame, [h.box for h in hints]): ...
    """

    def __init__(self, long_side: int = 128, threshold: int = 30, min_share: float = 0.002,
                 min_pixels: int = 12, grow: float = 0.15) -> None:
        self.long_side, self.threshold = int(long_side), int(threshold)
        self.min_share, self.min_pixels, self.grow = float(min_share), int(min_pixels), float(grow)
        self._small: Optional[np.ndarray] = None
        self._boxes: list[np.ndarray] = []

    def _shrunk(self, image: np.ndarray) -> np.ndarray:
        """The green channel (grey enough), every k-th pixel to ~4x the size, then area-averaged."""
        h, w = image.shape[:2]
        f = self.long_side / max(h, w)
        k = max(1, int(1 / (4 * f)))
        size = (max(1, round(w * f)), max(1, round(h * f)))
        return cv2.resize(np.ascontiguousarray(image[::k, ::k, 1]), size, interpolation=cv2.INTER_AREA)

    def remember(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> None:
        self._small, self._boxes = self._shrunk(image), [np.asarray(b, np.float64) for b in boxes]

    def changed(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> bool:
        if self._small is None:
            return False
        small = self._shrunk(image)
        if small.shape != self._small.shape:
            return True
        diff = cv2.absdiff(small, self._small) > self.threshold
        f = small.shape[1] / image.shape[1]
        for b in list(self._boxes) + [np.asarray(b, np.float64) for b in boxes]:
            g = self.grow * (b[2:] - b[:2])
            x0, y0 = np.floor((b[:2] - g) * f).astype(int).clip(0)
            x1, y1 = np.ceil((b[2:] + g) * f).astype(int)
            diff[y0:y1, x0:x1] = False
        return int(diff.sum()) > max(self.min_pixels, self.min_share * diff.size)
