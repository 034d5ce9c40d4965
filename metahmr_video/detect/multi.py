"""Several people per frame: person crops from four sources, 33 landmarks on each crop.

Sources of crops, in order: (1) hints, e.g. the previous frame's people or the tracker's
predictions (re-cropped from their landmarks like BlazePose tracking, so a person is not searched
for from scratch each frame); (2) OpenCV's HOG pedestrian detector (needs no face: back views, small
people); (3) MediaPipe's pose detector (face/upper-body keyed, optionally on tiles for small
people); (4) MediaPipe's person segmentation (large, close, cut or turned-away people). Crops that
cover an already found person are skipped; duplicates are merged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from metahmr_video.detect.blazepose import LandmarkResult, PoseDetector, PoseLandmarker, Roi, roi_from_alignment_points
from metahmr_video.detect.change import ChangeWatch
from metahmr_video.detect.hog import HogPeopleDetector
from metahmr_video.detect.segment import PersonSegmenter
from metahmr_video.core.boxes import box_from_keypoints, box_inside, box_iou
from metahmr_video.core.errors import InputError
from metahmr_video.core.layout import Landmark
from metahmr_video.core.records import Detection, Frame

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
                     world_landmarks=res.world, source=source, roi=res.next_roi.as_array(),
                     visibility=res.visibility[:33], presence=res.presence[:33])


@dataclass(frozen=True)
class DetectorConfig:
    """min_score: pose-present probability to accept a person. tiles: n x n tiles for the pose
    detector besides the whole image (0 = whole image only; small people need 2). use_blazepose /
    use_hog / use_segmentation: MediaPipe's pose detector / HOG pedestrian boxes (image upscaled by
    hog_upscale) / person-segmentation regions covering at least segment_min_area of the image as
    sources of new people; hog_max_pixels caps the size of HOG's whole-image search (pixels after
    scaling; larger frames are searched at a lower scale, 0: no cap). search_lost: where a hint (a
    tracked person) finds no landmarks, HOG searches a window around it, scaled for the person's size. full_every: run the pose detector
    and segmentation every n-th call of `detect(..., full=None)` (hinted people are re-cropped on
    every frame), and (without spread_hog) HOG's whole scale pyramid on those frames. settled_search_every: once a scene
    is settled (every expected person re-found and nothing new for settle_frames frames), the
    search for new people (pose detector, segmentation, HOG) rests, and runs one round every this
    many frames (0: never rests), or at once, with wake_on_change, when the frame changes where no
    one is tracked (`change.ChangeWatch`, E79); spread_hog spreads HOG's pyramid over the full_every - 1 frames
    between two full searches, one slice per frame, so that no frame but the first pays for all of
    it and none for a slice and the pose detector together. refine:
    a second landmark pass on each new crop (junk crops disagree). mask_found: a tracked person
    not found again on their crop is looked for once more with the people found greyed out (the
    landmark model follows the most visible person of a crop; someone overlapping them, turned away
    or folded, comes back once they are masked); in an explicit full search (`detect(full=True)`, a
    photo) every candidate crop is also looked at once more with the people found greyed out, and
    so is every crop HOG finds on that greyed image (E76); an upright person found there with a
    pose-present probability of at least second_look_score, whose box is not 70 % inside or around
    anyone found's, is kept (E73). dedupe_iou: box overlap above
    which two detections are one person. num_threads: LiteRT threads; solo_threads: LiteRT threads of
    the landmark model on frames expecting exactly one person (None: num_threads), where the other
    core is better left to the person's adaptation (E33)."""

    min_score: float = 0.5
    tiles: int = 0
    use_blazepose: bool = True
    use_hog: bool = True
    hog_upscale: float = 1.6
    hog_max_pixels: int = 1_200_000
    use_segmentation: bool = True
    segment_min_area: float = 0.02
    search_lost: bool = True
    full_every: int = 5
    spread_hog: bool = True
    settle_frames: int = 10
    settled_search_every: int = 60
    wake_on_change: bool = True
    refine: bool = True
    mask_found: bool = True
    second_look_score: float = 0.95
    dedupe_iou: float = 0.5
    num_threads: int = 2
    solo_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.full_every < 1:
            raise InputError(f"detector.full_every must be at least 1, got {self.full_every}")


class MultiPersonDetector:
    """Multi-person 2D/3D pose from MediaPipe's bundled models (loaded once, reusable).

        det = MultiPersonDetector(DetectorConfig(tiles=2))
        people = det.detect(frame)                          # list[Detection]
        people = det.detect(next_frame, hints=people)       # re-crop from the last frame

    `times` (a `metahmr_video.core.profiling.StageTimes`, or None) gets the time of each part of a
    call: detect.landmarks, detect.pose_detector, detect.hog, detect.segmentation.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        c = self.config = config or DetectorConfig()
        self._crowd = self.landmarker = PoseLandmarker(num_threads=c.num_threads)
        self._solo = (PoseLandmarker(num_threads=c.solo_threads)
                      if c.solo_threads is not None and c.solo_threads != c.num_threads else self._crowd)
        self.pose_detector = PoseDetector(num_threads=c.num_threads) if c.use_blazepose else None
        self.hog = HogPeopleDetector(upscale=c.hog_upscale, parts=max(1, c.full_every - 1),
                                     max_pixels=c.hog_max_pixels) if c.use_hog else None
        self.segmenter = (PersonSegmenter(min_area=c.segment_min_area, num_threads=c.num_threads)
                          if c.use_segmentation else None)
        self.times = None
        self.reset()

    def _section(self, part: str, frame: Frame):
        return self.times.section(f"detect.{part}", frame.index) if self.times is not None else contextlib.nullcontext()

    def reset(self) -> None:
        """Forget per-video state (the search schedule). Models stay loaded."""
        self._calls = 0
        self._sweeping = False  # a sweep of HOG's pyramid slices is under way
        self._settled = 0       # consecutive frames with every expected person re-found, nothing new
        self._since_sweep = 0   # frames since the last complete HOG sweep
        self._watch = ChangeWatch()

    def _paused(self) -> bool:
        """The search for new people rests: the scene is settled and a round ran recently."""
        return (self.config.settled_search_every > 0 and self._settled >= self.config.settle_frames
                and self._since_sweep < self.config.settled_search_every)

    def _hog_schedule(self, full: bool, paused: bool) -> Optional[int] | bool:
        """What HOG searches in a scheduled call: None = the whole pyramid, an int = that slice,
        False = nothing (see DetectorConfig). The first call: the whole pyramid. With `spread_hog`,
        sweeps of the pyramid spread over the full_every - 1 calls between two full-search calls
        (which run the pose detector and segmentation), one slice per call, finest scales first:
        back to back while the scene changes, now and then while it is settled. Without it: the
        whole pyramid on the full-search calls."""
        if self._calls == 0 or not self.config.spread_hog or self.config.full_every < 2:
            self._sweeping = False
            return None if full and not paused else False
        part = self._calls % self.config.full_every - 1
        if part < 0:  # the pose detector's call
            return False
        if part == 0:
            self._sweeping = not paused
        return part if self._sweeping else False

    def _covered(self, box: np.ndarray, found: List[Detection], iou: float = 0.5) -> bool:
        """A candidate box is someone already found: high IoU, or the same centre (within a third
        of the found person's width and a quarter of their height) and a similar height. People
        side by side are a body width apart: both are searched."""
        if not found:
            return False
        boxes = np.stack([d.box for d in found])
        if box_iou(box[None], boxes)[0].max() >= iou:
            return True
        c = (box[:2] + box[2:]) / 2
        h = box[3] - box[1]
        for b in boxes:
            bw, bh = max(b[2] - b[0], 1e-3), max(b[3] - b[1], 1e-3)
            dx, dy = np.abs(c - (b[:2] + b[2:]) / 2)
            if dx < bw / 3 and dy < 0.25 * bh and 0.6 <= h / bh <= 1.6:
                return True
        return False

    def _accept(self, results: Sequence[LandmarkResult], source: str, shape: Tuple[int, ...],
                found: List[Detection]) -> None:
        h, w = shape[:2]
        for r in results:
            if r.score >= self.config.min_score and np.isfinite(r.keypoints).all():
                found.append(_to_detection(r, source, w, h))

    def detect(self, frame: Frame, hints: Sequence[Detection] = (), full: Optional[bool] = True) -> List[Detection]:
        """People in a frame (pixels of its RGB image). hints: people expected in it (previous
        frame, tracker predictions). full: True runs the full-frame search (pose detector,
        segmentation, HOG's whole pyramid), False only re-crops the hints (and searches near lost
        ones), None follows the schedule of a video (DetectorConfig: pose detector and segmentation
        every `full_every`-th call and whenever there are no hints, one HOG slice per call, all
        resting while the scene is settled)."""
        image = frame.image
        self.landmarker = self._solo if len(hints) == 1 else self._crowd
        scheduled = full is None
        hog = None if full else False
        if scheduled:
            paused = self._paused()
            if paused and self.config.wake_on_change and self._watch.changed(image, [h.box for h in hints]):
                self._settled, paused = 0, False  # someone may have come in: the search runs again
            full = (self._calls % self.config.full_every == 0 and not paused) or not hints
            hog = self._hog_schedule(full, paused) if self.hog is not None else False
        elif self.hog is None:
            hog = False
        self._calls += 1
        found: List[Detection] = []
        with self._section("landmarks", frame):
            for hint in hints:
                res = self._hint_landmarks(image, hint)
                if res is not None:
                    self._accept([res], "track", image.shape, found)
        found = self._dedupe(found)
        if self.config.mask_found and found:
            with self._section("landmarks", frame):
                found = self._refind_masked(image, hints, found)
        refound = len(found)
        rois: List[Roi] = []
        sources: List[str] = []
        if self.hog is not None and self.config.search_lost:  # someone expected where the landmarks found no one
            with self._section("hog", frame):
                for hint in hints:
                    if not found or box_iou(hint.box[None], np.stack([d.box for d in found]))[0].max() < 0.3:
                        rois += self._search_near(image, hint.box)
                        sources += ["hog"] * (len(rois) - len(sources))
        if hog is not False:
            with self._section("hog", frame):
                boxes, _ = self.hog(image, part=hog)
            rois += [_hog_roi(b) for b in boxes]
            sources += ["hog"] * len(boxes)
        if full:
            if self.pose_detector is not None:
                with self._section("pose_detector", frame):
                    candidates = self.pose_detector(image, tiles=self.config.tiles)
                for c in candidates:
                    rois.append(c.roi())
                    sources.append("blazepose")
            if self.segmenter is not None:
                with self._section("segmentation", frame):
                    regions = self.segmenter(image)
                for b in regions:
                    rois.append(Roi((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 1.25 * float(max(b[2] - b[0], b[3] - b[1])), 0.0))
                    sources.append("segmentation")
        second_look = bool(full) and not scheduled  # a photo: E73
        for roi, src in zip(rois, sources):
            if self._covered(_shrink(roi.box(), 0.8), found):
                if second_look:
                    found = self._look_again(image, roi, src, found, frame)
                continue
            with self._section("landmarks", frame):
                res = self._landmarks(image, roi)
            if res is None or (src == "segmentation" and self._within_someone(res, image.shape, found)):
                continue
            tight = None
            if self._repeats(res, image.shape, found):
                # someone already found (dedupe keeps the better of the two); the crop may hold a
                # second person beside them: a tighter crop, same centre
                with self._section("landmarks", frame):
                    tight = self._landmarks(image, Roi(roi.cx, roi.cy, 0.8 * roi.side, roi.rotation), keep_first=True)
                if tight is not None and self._repeats(tight, image.shape, found):
                    tight = None
            self._accept([res] + ([tight] if tight is not None else []), src, image.shape, found)
            found = self._dedupe(found)
            if second_look:
                found = self._look_again(image, roi, src, found, frame)
        if second_look and self.hog is not None and found:  # someone beside the people found, whole once they are greyed
            with self._section("hog", frame):
                boxes, _ = self.hog(_greyed(image, found), part=None)
            for roi in map(_hog_roi, boxes):
                if not self._covered(_shrink(roi.box(), 0.8), found):
                    found = self._look_again(image, roi, "hog", found, frame)
        if scheduled:
            steady = bool(hints) and refound == len(hints) == len(found)
            self._settled = self._settled + 1 if steady else 0
            swept = hog is None or (hog is not False and hog == self.hog.parts - 1)
            self._since_sweep = 0 if swept else self._since_sweep + 1
            if not paused and self.config.wake_on_change:
                self._watch.remember(image, [d.box for d in found])
        return found

    def _look_again(self, image: np.ndarray, roi: Roi, source: str, found: List[Detection],
                    frame: Frame) -> List[Detection]:
        """`found` plus an upright person the candidate crop `roi` holds beside the people found,
        looked for with those greyed out (photos, E73: the landmark model gives one person of a crop,
        and two people walking side by side share their candidate crops). A grey image invites the
        landmark model's guesses: only a confident (`second_look_score`) upright person whose box is
        not 70 % inside or around someone found's (people walking side by side overlap by half, E76)."""
        with self._section("landmarks", frame):
            res = self._landmarks(_greyed(image, found), roi)
        if res is None or res.score < self.config.second_look_score or not _upright(res) or \
                self._repeats(res, image.shape, found):
            return found
        new = _to_detection(res, source, image.shape[1], image.shape[0])
        if any(_overlap_of_smaller(new.box, d.box) >= 0.7 for d in found):  # part of someone found, seen again
            return found
        found.append(new)
        return self._dedupe(found)

    def _hint_landmarks(self, image: np.ndarray, hint: Detection) -> Optional[LandmarkResult]:
        """Landmarks of a tracked person on their expected crop, or None when unsure or when they
        went to someone beside them (then a tight crop on the expected box: a crop holding two
        people confuses the landmark model)."""
        res = next(iter(self.landmarker(image, [roi_from_detection(hint)])), None)
        if res is None or res.score < self.config.min_score or _drifted(res, hint):
            x0, y0, x1, y1 = [float(v) for v in hint.box]
            res = next(iter(self.landmarker(image, [Roi((x0 + x1) / 2, (y0 + y1) / 2, 0.9 * (y1 - y0), 0.0)])), None)
            res = None if res is None or _drifted(res, hint) else res
        return res

    def _refind_masked(self, image: np.ndarray, hints: Sequence[Detection], found: List[Detection]) -> List[Detection]:
        """`found` plus the hints it lacks, looked for again on the image with the people found
        greyed out (each one's confident landmarks' extent; see DetectorConfig.mask_found)."""
        boxes = np.stack([d.box for d in found])
        lost = [h for h in hints if box_iou(h.box[None], boxes)[0].max() < 0.3]
        if not lost:
            return found
        masked = _greyed(image, found)
        for hint in lost:
            res = self._hint_landmarks(masked, hint)
            if res is not None and not self._repeats(res, image.shape, found):
                self._accept([res], "track", image.shape, found)
        return self._dedupe(found)

    def _landmarks(self, image: np.ndarray, roi: Roi, keep_first: bool = False) -> Optional[LandmarkResult]:
        """Landmarks on a candidate crop, or None. With `refine`, a second pass on the crop the
        first pass defines must agree with it (junk crops do not); its landmarks are kept unless
        `keep_first`."""
        first = self.landmarker(image, [roi])
        if not first or first[0].score < self.config.min_score * 0.5:
            return None
        res = first[0]
        if self.config.refine:
            second = self.landmarker(image, [res.next_roi])
            if not second or not _rois_agree(res.next_roi, second[0].next_roi):
                return None
            res = res if keep_first else second[0]
        return res

    def _within_someone(self, res: LandmarkResult, shape: Tuple[int, ...], found: List[Detection]) -> bool:
        """The landmarks' box lies (95 %) inside the larger box of someone found: from a person-pixel
        region, that is a visible part of them read as a whole small person (someone half hidden,
        E79), not someone new."""
        box = _to_detection(res, "", shape[1], shape[0]).box
        return any(box_inside(box, d.box) >= 0.95 and np.prod(box[2:] - box[:2]) < np.prod(d.box[2:] - d.box[:2])
                   for d in found)

    def _repeats(self, res: LandmarkResult, shape: Tuple[int, ...], found: List[Detection]) -> bool:
        """The landmarks are those of someone already found (they would be merged as duplicates)."""
        det = _to_detection(res, "", shape[1], shape[0])
        return any(self._same_person(det, d) for d in found)

    def _same_person(self, a: Detection, b: Detection) -> bool:
        """Two detections of one person: boxes overlapping by `dedupe_iou`, one box nearly inside
        the other with their landmarks in the same places (a part of the person found again; a
        person standing behind someone's spread arms has theirs elsewhere), or the same pose."""
        ha, hb = float(a.box[3] - a.box[1]), float(b.box[3] - b.box[1])
        inside = _overlap_of_smaller(a.box, b.box) >= 0.8 and \
            _same_pose(a, b, 0.3 * min(ha, hb) / max(ha, hb, 1.0), min_conf=0.5)  # within 0.3 x the part's height
        return bool(box_iou(a.box[None], b.box[None])[0, 0] >= self.config.dedupe_iou or inside or _same_pose(a, b))

    def _search_near(self, image: np.ndarray, box: np.ndarray) -> List[Roi]:
        """Crops for HOG people found near where `box` (xyxy pixels) expected someone: HOG on a
        window of three box widths by two heights around it, scaled so that the expected person
        is 160 px tall (HOG's window is 128; a large person's window is scaled down, not searched at
        full size)."""
        h, w = image.shape[:2]
        bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, x1 = int(max(0, cx - 1.5 * max(bw, 0.4 * bh))), int(min(w, cx + 1.5 * max(bw, 0.4 * bh)))
        y0, y1 = int(max(0, cy - bh)), int(min(h, cy + bh))
        if x1 - x0 < 8 or y1 - y0 < 16:
            return []
        boxes, _ = self.hog(np.ascontiguousarray(image[y0:y1, x0:x1]), upscale=min(160.0 / max(bh, 1.0), 4.0))
        return [_hog_roi(b + np.array([x0, y0, x0, y0], np.float32)) for b in boxes]

    def _dedupe(self, dets: List[Detection]) -> List[Detection]:
        if len(dets) < 2:
            return dets
        order = sorted(range(len(dets)), key=lambda i: (dets[i].source != "track", -dets[i].score))
        keep: List[int] = []
        for i in order:
            if not any(self._same_person(dets[i], dets[k]) for k in keep):
                keep.append(i)
        # a new person much smaller than someone they touch is a piece of them (tracked people stay)
        return [dets[i] for i in keep
                if dets[i].source == "track" or not any(_part_of(dets[i], dets[k]) for k in keep)]


def _hog_roi(box: np.ndarray) -> Roi:
    """The landmark model's crop for a HOG window (xyxy pixels): square, 1.25 x the person's height."""
    pb = np.asarray(HogPeopleDetector.person_extent(box), np.float32)
    return Roi((pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2, 1.25 * (pb[3] - pb[1]), 0.0)


def _greyed(image: np.ndarray, found: List[Detection]) -> np.ndarray:
    """A copy of `image` with each found person's confident landmarks' extent (pixels) greyed out."""
    masked = image.copy()
    height, width = image.shape[:2]
    for d in found:
        pts = d.keypoints2d[d.keypoint_conf >= 0.5]
        if len(pts) >= 3:
            x0, y0 = np.clip(np.floor(pts.min(0)).astype(int), 0, [width, height])
            x1, y1 = np.clip(np.ceil(pts.max(0)).astype(int), 0, [width, height])
            masked[y0:y1, x0:x1] = 127
    return masked


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """The intersection of two xyxy boxes over the smaller one's area."""
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return float(inter / max(min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2])), 1e-6))


def _upright(res: LandmarkResult, max_tilt_deg: float = 45.0) -> bool:
    """The torso (mid-hips to mid-shoulders, image pixels) within `max_tilt_deg` of the image's up."""
    k = res.keypoints[:, :2]
    torso = (k[11] + k[12]) / 2 - (k[23] + k[24]) / 2
    return bool(-torso[1] >= np.cos(np.radians(max_tilt_deg)) * np.linalg.norm(torso))


def _drifted(res: LandmarkResult, hint: Detection) -> bool:
    """Landmarks found on a person's crop belong to someone else: their mid-hip lies more than half
    the expected box's width sideways (or a quarter of its height up or down) from the expected one."""
    hip = res.keypoints[_HIPS, :2].mean(0)
    expected = hint.keypoints2d[_HIPS].mean(0)
    w, h = float(hint.box[2] - hint.box[0]), float(hint.box[3] - hint.box[1])
    return bool(abs(hip[0] - expected[0]) > 0.5 * max(w, 1.0) or abs(hip[1] - expected[1]) > 0.25 * max(h, 1.0))


def _part_of(a: Detection, b: Detection, ratio: float = 4.0, margin: float = 0.1) -> bool:
    """`a` is a piece of `b` read as a tiny person: under 1/ratio of b's height and touching b's box
    grown by `margin` x its height (a patch of a close player's jersey at the frame's edge)."""
    ha, hb = float(a.box[3] - a.box[1]), float(b.box[3] - b.box[1])
    grown = b.box + margin * hb * np.array([-1, -1, 1, 1])
    touches = a.box[0] <= grown[2] and a.box[2] >= grown[0] and a.box[1] <= grown[3] and a.box[3] >= grown[1]
    return bool(ratio * ha < hb and touches)


def _rois_agree(a: Roi, b: Roi, shift: float = 0.25, ratio: float = 1.35) -> bool:
    """Two crops of the same person: centres within `shift` x side, sides within `ratio`."""
    side = max(a.side, b.side, 1e-3)
    r = max(a.side, b.side) / max(min(a.side, b.side), 1e-3)
    return bool(np.hypot(a.cx - b.cx, a.cy - b.cy) < shift * side and r < ratio)


def _shrink(box: np.ndarray, f: float) -> np.ndarray:
    c = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) / 2 * f
    return np.concatenate([c - half, c + half]).astype(np.float32)


def _same_pose(a: Detection, b: Detection, thresh: float = 0.15, min_conf: float | None = None) -> bool:
    """Two landmark sets of one person: median keypoint distance under `thresh` x body height (over
    the landmarks confident in both when `min_conf` is given and at least 3 are; else all)."""
    size = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
    d = np.linalg.norm(a.keypoints2d - b.keypoints2d, axis=1)
    if min_conf is not None:
        both = (a.keypoint_conf >= min_conf) & (b.keypoint_conf >= min_conf)
        d = d[both] if both.sum() >= 3 else d
    return bool(np.median(d) < thresh * size)
