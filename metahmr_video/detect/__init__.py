"""People and their 2D/3D keypoints per frame.

    from metahmr_video.detect import MultiPersonDetector
    det = MultiPersonDetector()                      # loads MediaPipe's bundled models once
    people = det.detect(frame, hints=previous)       # list[Detection]

`PrecomputedKeypoints` feeds keypoints from other detectors (COCO-17 / OpenPose JSON, NPZ).
"""

from metahmr_video.detect.blazepose import PoseCandidate, PoseDetector, PoseLandmarker, Roi, mediapipe_model_path
from metahmr_video.detect.hog import HogPeopleDetector
from metahmr_video.detect.multi import DetectorConfig, MultiPersonDetector, roi_from_detection
from metahmr_video.detect.precomputed import PrecomputedKeypoints, load_keypoints
from metahmr_video.detect.segment import PersonSegmenter

__all__ = [
    "DetectorConfig", "MultiPersonDetector", "PoseDetector", "PoseLandmarker", "PoseCandidate", "Roi", "HogPeopleDetector",
    "PersonSegmenter", "PrecomputedKeypoints", "load_keypoints", "roi_from_detection", "mediapipe_model_path",
]
