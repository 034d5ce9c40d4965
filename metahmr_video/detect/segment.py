"""MediaPipe's bundled person segmentation (`selfie_segmentation.tflite`, run with ai-edge-litert):
regions of person pixels as boxes, a source of crops for people that are too large, too close,
cut by the frame or turned away for the other two (HOG wants whole upright people of ~60-400 px,
the pose detector a visible face)."""

from __future__ import annotations

import cv2
import numpy as np

from metahmr_video.detect.blazepose import _interpreter, mediapipe_model_path

SEGMENTER_SIZE = 256


class PersonSegmenter:
    """Boxes (xyxy pixels) of the connected regions of person pixels covering at least `min_area`
    of the image (the model works on the whole image at 256x256: large people only).

        boxes = PersonSegmenter()(rgb_image)          # float32 [N, 4]
    """

    def __init__(self, min_area: float = 0.02, threshold: float = 0.5, num_threads: int = 2) -> None:
        self.interpreter = _interpreter(mediapipe_model_path("modules/selfie_segmentation/selfie_segmentation.tflite"),
                                        num_threads)
        self.min_area, self.threshold = float(min_area), float(threshold)
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]

    def mask(self, image: np.ndarray) -> np.ndarray:
        """Person probability [H, W] in [0, 1] for an RGB uint8 image."""
        x = cv2.resize(image, (SEGMENTER_SIZE, SEGMENTER_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self._input, x[None])
        self.interpreter.invoke()
        prob = self.interpreter.get_tensor(self._output)[0, :, :, 0]
        return cv2.resize(prob, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 image -> float32 [N, 4] boxes of large person regions, largest first."""
        person = (self.mask(image) >= self.threshold).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(person)
        h, w = image.shape[:2]
        regions = [s for s in stats[1:count] if s[4] >= self.min_area * h * w]
        regions.sort(key=lambda s: -s[4])
        return np.array([[x, y, x + bw, y + bh] for x, y, bw, bh, _ in regions], np.float32).reshape(-1, 4)
