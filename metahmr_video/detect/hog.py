"""OpenCV's built-in HOG + linear SVM pedestrian detector (no model download): upright person
boxes that need no visible face, used as extra crops for the landmark model."""

from __future__ import annotations

import functools
from typing import List, Optional, Tuple

import cv2
import numpy as np


class HogPeopleDetector:
    """Upright people boxes (xyxy pixels) with SVM margins as scores.

    The default SVM window is 64x128 with the person about 96 px tall inside it, so the image is
    upscaled by `upscale` first to find people down to ~96/upscale px tall. The search's cost grows
    with its pixel count: a whole-image search is scaled down further, when needed, to at most
    `max_pixels` (0: no limit); in a 1080p frame people are then found from ~125 px tall. The search
    runs over a pyramid of scales (`scale_step` apart); `parts` > 1 splits that pyramid into slices
    of about equal cost, so that a caller can search one slice per frame (no frame pays for the
    whole pyramid; `__call__(image, part=k)`). The searched image is extended by `edge_pad` pixels
    (of the searched scale; 32 = half the window's width) of repeated border on every side, so that a
    window fits over a person at the frame's edge or cut by it (without it, one standing at the edge
    of a 1080p view was never found; it costs +18 % on a 360x640 frame's search).

        boxes, scores = HogPeopleDetector()(rgb_image)
    """

    def __init__(self, upscale: float = 1.6, min_margin: float = 0.5, scale_step: float = 1.05,
                 nms_iou: float = 0.4, parts: int = 1, max_pixels: int = 0, edge_pad: int = 32) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.upscale = float(upscale)
        self.min_margin = float(min_margin)
        self.scale_step = float(scale_step)
        self.nms_iou = float(nms_iou)
        self.parts = max(1, int(parts))
        self.max_pixels = int(max_pixels)
        self.edge_pad = int(edge_pad)

    @functools.lru_cache(maxsize=8)
    def slices(self, width: int, height: int) -> List[Tuple[int, int]]:
        """The pyramid levels (first, count) of each part, for a (width, height) search image. Level
        i has scale scale_step**i and costs about its pixel count; each part gets consecutive levels
        worth about 1/parts of the total."""
        w, h = self.hog.winSize
        scales = []
        s = 1.0
        while round(width / s) >= w and round(height / s) >= h:
            scales.append(s)
            s *= self.scale_step
        cost = np.cumsum([1.0 / sc ** 2 for sc in scales]) if scales else np.zeros(1)
        bounds = [0] + [int(np.searchsorted(cost, cost[-1] * k / self.parts)) + 1 for k in range(1, self.parts)]
        bounds = sorted(set(min(b, len(scales)) for b in bounds)) + [len(scales)]
        return [(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a] or [(0, 1)]

    @functools.lru_cache(maxsize=16)
    def _descriptor(self, levels: int) -> cv2.HOGDescriptor:
        """The default people detector limited to `levels` pyramid levels."""
        d = self.hog
        hog = cv2.HOGDescriptor(d.winSize, d.blockSize, d.blockStride, d.cellSize, d.nbins, d.derivAperture,
                                d.winSigma, d.histogramNormType, d.L2HysThreshold, d.gammaCorrection, levels,
                                d.signedGradient)
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        return hog

    def __call__(self, image: np.ndarray, part: Optional[int] = None,
                 upscale: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
        """RGB uint8 image -> (boxes float32[N, 4] xyxy pixels, scores float32[N]). part: search only
        slice `part % len(slices)` of the scale pyramid (None: all of it); `upscale` overrides the
        detector's own (and its `max_pixels` limit) for this call."""
        if upscale is None:
            upscale = self.upscale
            if self.max_pixels > 0:
                upscale = min(upscale, float(np.sqrt(self.max_pixels / (image.shape[0] * image.shape[1]))))
        upscale = float(upscale)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if upscale != 1.0:
            gray = cv2.resize(gray, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        hog, scale = self.hog, 1.0
        if part is not None:
            plan = self.slices(gray.shape[1], gray.shape[0])
            first, count = plan[part % len(plan)]
            scale = self.scale_step ** first
            if first > 0:
                size = (round(gray.shape[1] / scale), round(gray.shape[0] / scale))
                gray = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
            hog = self._descriptor(count)
        if gray.shape[1] < hog.winSize[0] or gray.shape[0] < hog.winSize[1]:
            # no window fits (and OpenCV's detectMultiScale corrupts the heap on some such images)
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        pad = self.edge_pad
        if pad > 0:
            gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        rects, weights = hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8),
                                              scale=self.scale_step, hitThreshold=0.0)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects = (np.asarray(rects, np.float32).reshape(-1, 4) - [pad, pad, 0, 0]) * (scale / upscale)
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
