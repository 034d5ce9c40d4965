"""Several people per frame: person crops from three sources, 33 landmarks on each crop.

Sources of crops, in order: (1) hints, e.g. the previous frame's people or the tracker's
predictions (re-cropped from their landmarks like BlazePose tracking, so a person is not searched
for from scratch each frame); (2) MediaPipe's pose detector (face/upper-body keyed, optionally on
tiles for small people); (3) OpenCV's HOG pedestrian detector (needs no face: back views, small
people). Crops that cover an already found person are skipped; duplicates are merged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from metahmr_video.detect.blazepose import LandmarkResult, PoseDetector, PoseLandmarker, Roi, roi_from_alignment_points
from metahmr_video.detect.hog import HogPeopleDetector
from metahmr_video.boxes import box_from_keypoints, box_iou
from metahmr_video.layout import Landmark
from metahmr_video.records import Detection, Frame

_HIPS = [Landmark.LEFT_HIP, Landmark.RIGHT_HIP]
_SHOULDERS = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER]


def roi_from_detection(det: Detection) -> Roi:
    """The next crop for a person: its stored `roi` if any, else one built from its keypoints
    (centre mid-hip, up = hips -> shoulders, side 2.5 x the farthest confident keypoint)."""
    if det.roi is not None:
        return Roi.from_array(det.roi)
    kp, conf = det.keypoints2d, det.keypoint_conf
    hip = kp[_HIPS].mean(0)
    sh = kp[_SHOULDERS].mean(0)
    sel = conf >= 0.3
    pts = kp[sel] if sel.sum() >= 3 else kp
    radius = float(np.max(np.linalg.norm(pts - hip, axis=1))) * 1.1
    up = sh - hip
    n = float(np.hypot(*up))
    scale_point = hip + (up / n if n > 1e-6 else np.array([0.0, -1.0])) * max(radius, 4.0)
    return roi_from_alignment_points(hip, scale_point)


def _to_detection(res: LandmarkResult, source: str, width: int, height: int) -> Detection:
    conf = (res.visibility[:33] * res.presence[:33]).astype(np.float32)
    kp = res.keypoints[:33, :2]
    box = box_from_keypoints(kp, conf, min_conf=0.5)
    box = np.clip(box, 0, [width, height, width, height]).astype(np.float32)
    return Detection(box=box, score=res.score, keypoints2d=kp, keypoint_conf=conf,
                     world_landmarks=res.world, source=source, roi=res.next_roi.as_array())


@dataclass
class DetectorConfig:
    """min_score: pose-present probability to accept a person. tiles: n x n tiles for the pose
    detector besides the whole image (0 = whole image only; small people need 2). use_blazepose /
    use_hog: MediaPipe's pose detector / HOG pedestrian boxes as sources of new people (HOG boxes
    upscaled by hog_upscale). full_every: run the pose detector every n-th call of
    `detect(..., full=None)` (hinted people are re-cropped on every frame), and HOG's whole scale
    pyramid once in those full_every frames: spread_hog spreads it over them, one slice per frame,
    so that no frame pays for all of it (False: all of it on the full-search frame; the first
    frame of a video always searches all of it). settled_search_every: once a scene is settled
    (every expected person re-found and nothing new for settle_frames frames), the search for new
    people (pose detector and HOG) pauses, and runs one full round (HOG's whole pyramid) every this
    many frames (0: never pauses). refine: a second landmark pass on each
    new crop (junk crops disagree). dedupe_iou: box overlap above which two detections are one
    person. num_threads: LiteRT threads."""

    min_score: float = 0.5
    tiles: int = 0
    use_blazepose: bool = True
    use_hog: bool = True
    hog_upscale: float = 1.6
    full_every: int = 5
    spread_hog: bool = True
    settle_frames: int = 10
    settled_search_every: int = 60
    refine: bool = True
    dedupe_iou: float = 0.5
    num_threads: int = 2


class MultiPersonDetector:
    """Multi-person 2D/3D pose from MediaPipe's bundled models (loaded once, reusable).

        det = MultiPersonDetector(DetectorConfig(tiles=2))
        people = det.detect(frame)                          # list[Detection]
        people = det.detect(next_frame, hints=people)       # re-crop from the last frame

    `times` (a `metahmr_video.profiling.StageTimes`, or None) gets the time of each part of a
    call: detect.landmarks, detect.pose_detector, detect.hog.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        c = self.config = config or DetectorConfig()
        self.landmarker = PoseLandmarker(num_threads=c.num_threads)
        self.pose_detector = PoseDetector(num_threads=c.num_threads) if c.use_blazepose else None
        self.hog = HogPeopleDetector(upscale=c.hog_upscale, parts=c.full_every) if c.use_hog else None
        self.min_score = float(c.min_score)
        self.tiles = int(c.tiles)
        self.full_every = max(1, int(c.full_every))
        self.refine = c.refine
        self.dedupe_iou = float(c.dedupe_iou)
        self.spread_hog, self.settle_frames, self.settled_search_every = c.spread_hog, int(c.settle_frames), int(c.settled_search_every)
        self.times = None
        self.reset()

    def _section(self, part: str, frame: Frame):
        return self.times.section(f"detect.{part}", frame.index) if self.times is not None else contextlib.nullcontext()

    def reset(self) -> None:
        """Forget per-video state (the search schedule). Models stay loaded."""
        self._calls = 0
        self._hog_next = 0      # the next slice of HOG's pyramid; 0: a new sweep starts
        self._settled = 0       # consecutive frames with every expected person re-found, nothing new
        self._since_sweep = 0   # frames since the last complete HOG sweep

    def _paused(self) -> bool:
        """The search for new people rests: the scene is settled and a round ran recently."""
        return (self.settled_search_every > 0 and self._settled >= self.settle_frames
                and self._since_sweep < self.settled_search_every)

    def _hog_schedule(self, full: bool, paused: bool) -> Optional[int] | bool:
        """What HOG searches in a scheduled call: None = the whole pyramid, an int = that slice,
        False = nothing (see DetectorConfig)."""
        if self._calls == 0:
            return None
        if not self.spread_hog:
            return None if full and not paused else False
        if self._hog_next == 0 and paused:
            return False
        part = self._hog_next
        self._hog_next = (part + 1) % self.hog.parts
        return part

    def _covered(self, box: np.ndarray, found: List[Detection], iou: float = 0.5) -> bool:
        """A candidate box is someone already found: high IoU, or same centre and height."""
        if not found:
            return False
        boxes = np.stack([d.box for d in found])
        if box_iou(box[None], boxes)[0].max() >= iou:
            return True
        c = (box[:2] + box[2:]) / 2
        h = box[3] - box[1]
        for b in boxes:
            bh = max(b[3] - b[1], 1e-3)
            if np.hypot(*(c - (b[:2] + b[2:]) / 2)) < 0.25 * bh and 0.6 <= h / bh <= 1.6:
                return True
        return False

    def _accept(self, results: Sequence[LandmarkResult], source: str, shape: Tuple[int, ...],
                found: List[Detection]) -> None:
        h, w = shape[:2]
        for r in results:
            if r.score >= self.min_score and np.isfinite(r.keypoints).all():
                found.append(_to_detection(r, source, w, h))

    def detect(self, frame: Frame, hints: Sequence[Detection] = (), full: Optional[bool] = True) -> List[Detection]:
        """People in a frame (pixels of its RGB image). hints: people expected in it (previous
        frame, tracker predictions). full: True runs the full-frame search (pose detector, HOG's
        whole pyramid), False only re-crops the hints, None follows the schedule of a video
        (DetectorConfig: pose detector every `full_every`-th call and whenever there are no hints,
        one HOG slice per call, both resting while the scene is settled)."""
        image = frame.image
        scheduled = full is None
        hog = None if full else False
        if scheduled:
            paused = self._paused()
            full = (self._calls % self.full_every == 0 and not paused) or not hints
            hog = self._hog_schedule(full, paused) if self.hog is not None else False
        elif self.hog is None:
            hog = False
        self._calls += 1
        found: List[Detection] = []
        if hints:
            rois = [roi_from_detection(d) for d in hints]
            with self._section("landmarks", frame):
                results = self.landmarker(image, rois)
            self._accept(results, "track", image.shape, found)
            found = self._dedupe(found)
        refound = len(found)
        rois: List[Roi] = []
        sources: List[str] = []
        if hog is not False:
            with self._section("hog", frame):
                boxes, _ = self.hog(image, part=hog)
            for b in boxes:
                pb = np.asarray(HogPeopleDetector.person_extent(b), np.float32)
                rois.append(Roi((pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2, 1.25 * (pb[3] - pb[1]), 0.0))
                sources.append("hog")
        if full and self.pose_detector is not None:
            with self._section("pose_detector", frame):
                candidates = self.pose_detector(image, tiles=self.tiles)
            for c in candidates:
                rois.append(c.roi())
                sources.append("blazepose")
        for roi, src in zip(rois, sources):
            if self._covered(_shrink(roi.box(), 0.8), found):
                continue
            with self._section("landmarks", frame):
                first = self.landmarker(image, [roi])
            if not first or first[0].score < self.min_score * 0.5:
                continue
            res = first[0]
            if self.refine:  # second pass on the landmarks' own crop; junk crops disagree
                with self._section("landmarks", frame):
                    second = self.landmarker(image, [res.next_roi])
                if not second or not _rois_agree(res.next_roi, second[0].next_roi):
                    continue
                res = second[0]
            self._accept([res], src, image.shape, found)
            found = self._dedupe(found)
        if scheduled:
            steady = bool(hints) and refound == len(hints) == len(found)
            self._settled = self._settled + 1 if steady else 0
            swept = hog is None or (hog is not False and self._hog_next == 0)
            self._since_sweep = 0 if swept else self._since_sweep + 1
        return found

    def _dedupe(self, dets: List[Detection]) -> List[Detection]:
        if len(dets) < 2:
            return dets
        order = sorted(range(len(dets)), key=lambda i: (dets[i].source != "track", -dets[i].score))
        boxes = np.stack([d.box for d in dets])
        ious = box_iou(boxes, boxes)
        keep: List[int] = []
        for i in order:
            same = False
            for k in keep:
                if ious[i, k] >= self.dedupe_iou or _same_pose(dets[i], dets[k]):
                    same = True
                    break
            if not same:
                keep.append(i)
        return [dets[i] for i in keep]


def _rois_agree(a: Roi, b: Roi, shift: float = 0.25, ratio: float = 1.35) -> bool:
    """Two crops of the same person: centres within `shift` x side, sides within `ratio`."""
    side = max(a.side, b.side, 1e-3)
    r = max(a.side, b.side) / max(min(a.side, b.side), 1e-3)
    return bool(np.hypot(a.cx - b.cx, a.cy - b.cy) < shift * side and r < ratio)


def _shrink(box: np.ndarray, f: float) -> np.ndarray:
    c = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) / 2 * f
    return np.concatenate([c - half, c + half]).astype(np.float32)


def _same_pose(a: Detection, b: Detection, thresh: float = 0.15) -> bool:
    """Two landmark sets of one person: median keypoint distance under `thresh` x body height."""
    size = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
    d = np.linalg.norm(a.keypoints2d - b.keypoints2d, axis=1)
    return bool(np.median(d) < thresh * size)
