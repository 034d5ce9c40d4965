"""Multi-person tracking: a filterpy Kalman filter per person on its box, Hungarian matching
(scipy) on box overlap + keypoint similarity, births after a few hits, deaths after a gap, and
re-identification of a person who comes back within a window (appearance colour histogram when
the image is given, else metric bone lengths from the world landmarks). Each track also undoes
the landmark model's front/back label flips (`metahmr_video.track.facing`)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from metahmr_video.core.boxes import box_iou
from metahmr_video.core.layout import Landmark
from metahmr_video.core.records import Detection, TrackedPerson
from metahmr_video.track.evidence_gate import EvidenceConfig
from metahmr_video.track.facing import FacingConfig, FacingFilter

_BONES = [(Landmark[a.upper()], Landmark[b.upper()]) for a, b in [
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_hip", "left_knee"),
    ("right_hip", "right_knee"), ("left_knee", "left_ankle"), ("right_knee", "right_ankle")]]
_TORSO = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_HIP, Landmark.RIGHT_HIP]


HEIGHT_MEMORY = 30  # detections
WHOLE = 0.7  # a box at least this share of the person's height (`_Track.height`) shows all of them


def _box_to_z(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = [float(v) for v in box]
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, 1.0), max(y1 - y0, 1.0)])


def _z_to_box(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = [float(v) for v in z[:4]]
    w, h = max(w, 1.0), max(h, 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def keypoint_similarity(kp_a: np.ndarray, conf_a: np.ndarray, kp_b: np.ndarray, conf_b: np.ndarray,
                        scale: float, min_conf: float = 0.3) -> float:
    """OKS-like similarity in [0, 1]: mean exp(-d^2 / (2 (0.1 scale)^2)) over keypoints confident in
    both; -1 when fewer than 3 are."""
    sel = (conf_a >= min_conf) & (conf_b >= min_conf)
    if sel.sum() < 3:
        return -1.0
    d2 = ((kp_a[sel] - kp_b[sel]) ** 2).sum(1)
    return float(np.exp(-d2 / (2 * (0.1 * max(scale, 1.0)) ** 2)).mean())


def appearance(image: np.ndarray, det: Detection) -> Optional[np.ndarray]:
    """Hue-saturation histogram (normalised, 16x8) of the torso and upper legs region of a person;
    None when the region is too small."""
    kp, conf = det.keypoints2d, det.keypoint_conf
    pts = kp[_TORSO] if (conf[_TORSO] >= 0.3).sum() >= 3 else None
    if pts is not None:
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        y1 = y1 + 0.3 * (y1 - y0)
    else:
        x0, y0, x1, y1 = det.box
    return hs_histogram(image, x0, y0, x1, y1)


def hs_histogram(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> Optional[np.ndarray]:
    """Hue-saturation histogram (normalised, 16x8) of an RGB image's region x0..x1, y0..y1 (pixels,
    clipped to the image); None when the region is under 4 px on a side or empty."""
    h, w = image.shape[:2]
    x0, x1 = int(max(0, np.floor(x0))), int(min(w, np.ceil(x1)))
    y0, y1 = int(max(0, np.floor(y0))), int(min(h, np.ceil(y1)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    s = hist.sum()
    return (hist / s).astype(np.float32) if s > 0 else None


def bone_lengths(det: Detection) -> Optional[np.ndarray]:
    """Metric bone lengths [12] from world landmarks (None if absent)."""
    if det.world_landmarks is None:
        return None
    w = det.world_landmarks
    return np.array([np.linalg.norm(w[a] - w[b]) for a, b in _BONES], np.float32)


@dataclass
class _Track:
    track_id: int
    kf: KalmanFilter
    detection: Detection
    hits: int = 1
    hit_streak: int = 1
    misses: int = 0
    age: int = 0
    confirmed: bool = False
    last_frame: int = 0
    last_time: Optional[float] = None
    appearance: Optional[np.ndarray] = None
    bones: Optional[np.ndarray] = None
    last_box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    facing: FacingFilter = field(default_factory=FacingFilter)
    heights: deque = field(default_factory=lambda: deque(maxlen=HEIGHT_MEMORY))

    def height(self) -> float:
        """The person's height (pixels) as last seen whole: their tallest box of their last
        `HEIGHT_MEMORY` detections (someone partly hidden before they were lost is not that small)."""
        return max(self.heights) if self.heights else _box_to_z(self.last_box)[3]

    def box(self) -> np.ndarray:
        return _z_to_box(self.kf.x[:4, 0])


@dataclass(frozen=True)
class TrackerConfig:
    """Counts are frames. min_hits: detections in a row before a track is reported. max_age:
    frames a track survives without a detection (reported as `predicted` for up to `max_coast` of
    them). reid_window: frames after its death during which a returning person gets its old id
    back (appearance or bone-length similarity >= reid_threshold); later, up to reid_long_s seconds
    after it was last seen (when `update` is given the frames' times), only on a close appearance
    match (>= reid_long_threshold: colour histograms tell large, differently dressed people apart
    but not small pedestrians, E52). A confirmed track missed on this frame is re-identified the
    same way (someone partly hidden, then whole again elsewhere), sizes are compared with the
    person's height seen whole, and appearances are learnt from whole boxes only (E78). match_threshold: lowest
    similarity (0.5 IoU + 0.5 keypoints) to match. min_score: detections below it are ignored.
    facing: the per-track fix of front/back label flips. evidence: which tracks the pipeline reports
    once their bodies are fitted (`EvidenceGate`: only those whose body explains their 2D evidence)."""

    min_hits: int = 2
    max_age: int = 15
    max_coast: int = 5
    reid_window: int = 90
    reid_long_s: float = 10.0
    reid_long_threshold: float = 0.85
    match_threshold: float = 0.2
    reid_threshold: float = 0.5
    min_score: float = 0.3
    facing: FacingConfig = field(default_factory=FacingConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)


class Tracker:
    """Stable integer ids for the people of consecutive frames.

        tracker = Tracker(TrackerConfig(min_hits=3))
        for frame in frames:
            people = detector.detect(frame, hints=tracker.predictions(), full=None)
            for person in tracker.update(people, frame.image):  # list[TrackedPerson]
                print(person.track_id, person.detection.box, person.predicted)

    Each update is one frame; see `TrackerConfig` for the settings.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (next video); ids restart at 1."""
        self.tracks: List[_Track] = []
        self.lost: List[_Track] = []
        self.frame = -1
        self._next_id = 1

    # --- Kalman filter -------------------------------------------------------------------------
    @staticmethod
    def _make_kf(box: np.ndarray) -> KalmanFilter:
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.F = np.eye(8)
        kf.F[:4, 4:] = np.eye(4)
        kf.H = np.eye(4, 8)
        z = _box_to_z(box)
        kf.x = np.concatenate([z, np.zeros(4)])[:, None]
        h = z[3]
        kf.P = np.diag(np.square(np.r_[[h / 10] * 4, [h / 4] * 4]))
        return kf

    @staticmethod
    def _set_noise(kf: KalmanFilter) -> None:
        h = max(float(kf.x[3, 0]), 1.0)
        kf.Q = np.diag(np.square(np.r_[[h / 20] * 4, [h / 80] * 4]))
        kf.R = np.diag(np.square([h / 15, h / 15, h / 10, h / 10]))

    def _predict(self, t: _Track) -> None:
        if t.kf.x[3, 0] + t.kf.x[7, 0] <= 1.0:  # keep the height positive
            t.kf.x[7, 0] = 0.0
        if t.kf.x[2, 0] + t.kf.x[6, 0] <= 1.0:
            t.kf.x[6, 0] = 0.0
        self._set_noise(t.kf)
        t.kf.predict()

    @staticmethod
    def _moved(det: Detection, old_box: np.ndarray, new_box: np.ndarray, predicted: bool) -> Detection:
        """`det` moved from old_box to new_box (keypoints and crop follow the box)."""
        oz, nz = _box_to_z(old_box), _box_to_z(new_box)
        s = nz[3] / oz[3]
        kp = (det.keypoints2d - oz[:2]) * s + nz[:2]
        roi = None
        if det.roi is not None:
            roi = det.roi.copy()
            roi[:2] = (roi[:2] - oz[:2]) * s + nz[:2]
            roi[2] *= s
        conf = det.keypoint_conf * (0.0 if predicted else 1.0)
        return Detection(box=new_box, score=det.score, keypoints2d=kp, keypoint_conf=conf,
                         world_landmarks=det.world_landmarks, source=det.source, roi=roi)

    def predictions(self) -> List[Detection]:
        """Where the live tracks are expected in the next frame (does not change the tracker);
        pass them as detector hints. Keypoint confidences are kept so crops can be built."""
        out = []
        for t in self.tracks:
            if t.misses > self.config.max_coast:
                continue
            x = t.kf.F @ t.kf.x
            out.append(self._moved(t.detection, t.detection.box, _z_to_box(x[:4, 0]), False))
        return out

    # --- matching ------------------------------------------------------------------------------
    def _similarity(self, tracks: Sequence[_Track], dets: Sequence[Detection]) -> np.ndarray:
        if not tracks or not dets:
            return np.zeros((len(tracks), len(dets)))
        tboxes = np.stack([t.box() for t in tracks])
        dboxes = np.stack([d.box for d in dets])
        iou = box_iou(tboxes, dboxes)
        sim = np.zeros_like(iou, dtype=np.float64)
        for i, t in enumerate(tracks):
            moved = self._moved(t.detection, t.last_box, tboxes[i], False)
            h = tboxes[i][3] - tboxes[i][1]
            for j, d in enumerate(dets):
                ks = keypoint_similarity(moved.keypoints2d, moved.keypoint_conf, d.keypoints2d, d.keypoint_conf, h)
                c = _box_to_z(dboxes[j])
                dist = np.hypot(*(c[:2] - _box_to_z(tboxes[i])[:2])) / max(h, 1.0)
                if ks < 0:
                    ks = float(np.exp(-dist ** 2 / 0.18))
                sim[i, j] = 0.5 * iou[i, j] + 0.5 * ks
                if dist > 1.5:  # gate
                    sim[i, j] = 0.0
        return sim

    def _reid_threshold(self, t: _Track, time_s: Optional[float]) -> Optional[float]:
        """The similarity a returning person needs to get lost track t's id back now, or None when
        t is gone for good (see TrackerConfig)."""
        if self.frame - t.last_frame <= self.config.reid_window:
            return self.config.reid_threshold
        if time_s is not None and t.last_time is not None and time_s - t.last_time <= self.config.reid_long_s:
            return self.config.reid_long_threshold
        return None

    def _reid_similarity(self, t: _Track, d: Detection, app: Optional[np.ndarray]) -> float:
        """How much detection d (appearance histogram app) looks like lost track t, 0..1: their
        appearances, else their bone lengths (within the re-identification window only)."""
        gap = self.frame - t.last_frame
        oz, nz = _box_to_z(t.last_box), _box_to_z(d.box)
        size = min(t.height(), nz[3]) / max(t.height(), nz[3])
        if size < 0.5:
            return 0.0
        reach = (1.0 + 0.3 * gap) * oz[3]  # plausible walking distance since it was last seen
        if np.hypot(*(oz[:2] - nz[:2])) > reach:
            return 0.0
        if app is not None and t.appearance is not None:
            return float(np.sum(np.sqrt(app * t.appearance)))  # Bhattacharyya coefficient
        if gap > self.config.reid_window:
            return 0.0
        bones = bone_lengths(d)
        if bones is not None and t.bones is not None:
            rel = np.abs(bones - t.bones) / np.maximum(t.bones, 1e-3)
            return float(np.exp(-np.median(rel) / 0.1))
        return 0.0

    def update(self, detections: Sequence[Detection], image: Optional[np.ndarray] = None,
               tentative: bool = False, time_s: Optional[float] = None) -> List[TrackedPerson]:
        """Advance one frame with its detections (pixels of this frame; the image, RGB, enables
        appearance re-identification; its time in seconds, re-identification after long absences).
        Returns the confirmed tracks of this frame, ids ascending;
        with `tentative`, also the tracks not yet confirmed (`confirmed=False`), so that an offline
        caller can hold them and report a track from its first frame once it is confirmed."""
        self.frame += 1
        dets = [d for d in detections if d.score >= self.config.min_score and np.isfinite(d.box).all()]
        for t in self.tracks:
            t.last_box = t.box() if t.misses == 0 else t.last_box
            self._predict(t)
            t.age += 1
        # confirmed tracks first, then tentative ones, each by Hungarian assignment
        unmatched = list(range(len(dets)))
        matched_tracks: Dict[int, int] = {}
        for group in (True, False):
            tr = [i for i, t in enumerate(self.tracks) if t.confirmed == group]
            if not tr or not unmatched:
                continue
            sim = self._similarity([self.tracks[i] for i in tr], [dets[j] for j in unmatched])
            rows, cols = linear_sum_assignment(-sim)
            used = set()
            for r, c in zip(rows, cols):
                if sim[r, c] >= self.config.match_threshold:
                    matched_tracks[tr[r]] = unmatched[c]
                    used.add(unmatched[c])
            unmatched = [j for j in unmatched if j not in used]
        apps = {}
        for ti, di in matched_tracks.items():
            t, d = self.tracks[ti], dets[di]
            t.kf.update(_box_to_z(d.box))
            t.detection = d = t.facing(d)
            t.last_box = d.box.copy()
            whole = float(d.box[3] - d.box[1]) >= WHOLE * t.height()  # not a part of them (partly hidden)
            t.heights.append(float(d.box[3] - d.box[1]))
            t.hits += 1
            t.hit_streak += 1
            t.misses = 0
            t.last_frame, t.last_time = self.frame, time_s
            if t.hit_streak >= self.config.min_hits:
                t.confirmed = True
            if image is not None and whole:
                a = appearance(image, d)
                if a is not None:
                    t.appearance = a if t.appearance is None else 0.8 * t.appearance + 0.2 * a
            b = bone_lengths(d)
            if b is not None:
                t.bones = b if t.bones is None else 0.9 * t.bones + 0.1 * b
        for i, t in enumerate(self.tracks):
            if i not in matched_tracks:
                t.misses += 1
                t.hit_streak = 0
        # deaths: tentative tracks die on their first miss, confirmed ones after max_age
        alive = []
        for t in self.tracks:
            if (not t.confirmed and t.misses > 0) or t.misses > self.config.max_age:
                if t.confirmed:
                    self.lost.append(t)
            else:
                alive.append(t)
        self.tracks = alive
        self.lost = [t for t in self.lost if self._reid_threshold(t, time_s) is not None]
        # births, or re-identification of a recently lost person, or of a confirmed one missed
        # lately (not lost yet, but their predicted box no longer matches: partly hidden, E78)
        missed = [t for t in self.tracks if t.confirmed and t.misses > 0]
        for j in unmatched:
            d = dets[j]
            app = appearance(image, d) if image is not None else None
            best, best_margin = None, 0.0
            for t in self.lost + missed:
                margin = self._reid_similarity(t, d, app) - self._reid_threshold(t, time_s)
                if margin > best_margin:
                    best, best_margin = t, margin
            kf = self._make_kf(d.box)
            if best is not None:
                if best in missed:
                    missed.remove(best)
                    self.tracks.remove(best)
                else:
                    self.lost.remove(best)
                best.facing = FacingFilter(self.config.facing)  # they may have turned while away
                best.kf, best.detection, best.last_box = kf, best.facing(d), d.box.copy()
                best.heights = deque([float(d.box[3] - d.box[1])], maxlen=HEIGHT_MEMORY)
                best.misses, best.hit_streak, best.last_frame, best.last_time = 0, 1, self.frame, time_s
                best.appearance = app if app is not None else best.appearance
                self.tracks.append(best)
                continue
            facing = FacingFilter(self.config.facing)
            t = _Track(track_id=self._next_id, kf=kf, detection=facing(d), last_frame=self.frame, last_time=time_s,
                       appearance=app, bones=bone_lengths(d), last_box=d.box.copy(), facing=facing,
                       heights=deque([float(d.box[3] - d.box[1])], maxlen=HEIGHT_MEMORY))
            t.confirmed = self.config.min_hits <= 1
            self._next_id += 1
            self.tracks.append(t)
        out = []
        for t in self.tracks:
            if not t.confirmed:
                if tentative:
                    out.append(TrackedPerson(t.track_id, t.detection, age=t.age, confirmed=False))
                continue
            if t.misses == 0:
                out.append(TrackedPerson(t.track_id, t.detection, predicted=False, age=t.age))
            elif t.misses <= self.config.max_coast:
                det = self._moved(t.detection, t.last_box, t.box(), True)
                out.append(TrackedPerson(t.track_id, det, predicted=True, age=t.age))
        out.sort(key=lambda p: p.track_id)
        return out
