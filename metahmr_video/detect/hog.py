"""OpenCV's built-in HOG + linear SVM pedestrian detector (no model download): upright person
boxes that need no visible face, used as extra crops for the landmark model."""

from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np


class HogPeopleDetector:
    """Upright people boxes (xyxy pixels) with SVM margins as scores.

    The default SVM window is 64x128 with the person about 96 px tall inside it, so the image is
    upscaled by `upscale` first to find people down to ~96/upscale px tall.

        boxes, scores = HogPeopleDetector()(rgb_image)
    """

    def __init__(self, upscale: float = 1.6, min_margin: float = 0.5, scale_step: float = 1.05,
                 nms_iou: float = 0.4) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.upscale = float(upscale)
        self.min_margin = float(min_margin)
        self.scale_step = float(scale_step)
        self.nms_iou = float(nms_iou)

    def __call__(self, image: np.ndarray, upscale: float | None = None) -> Tuple[np.ndarray, np.ndarray]:
        """RGB uint8 image -> (boxes float32[N, 4] xyxy pixels, scores float32[N]); `upscale`
        overrides the detector's own for this call."""
        upscale = self.upscale if upscale is None else float(upscale)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if upscale != 1.0:
            gray = cv2.resize(gray, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        rects, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8),
                                                   scale=self.scale_step, hitThreshold=0.0)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects = np.asarray(rects, np.float32).reshape(-1, 4) / upscale
        scores = np.asarray(weights, np.float32).ravel()
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        keep = scores >= self.min_margin
        boxes, scores = boxes[keep], scores[keep]
        idx = cv2.dnn.NMSBoxes(rects[keep].tolist(), scores.tolist(), self.min_margin, self.nms_iou)
        idx = np.asarray(idx, int).ravel()
        return boxes[idx], scores[idx]

    @staticmethod
    def person_extent(box: np.ndarray) -> List[float]:
        """The person inside a HOG window: the window is padded ~1/8 at top and bottom."""
        x0, y0, x1, y1 = [float(v) for v in box]
        h = y1 - y0
        return [x0, y0 + 0.1 * h, x1, y1 - 0.1 * h]
