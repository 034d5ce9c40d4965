"""The live window of `metahmr-video webcam`: each frame with its people's meshes and a line of live
figures, frames per second and latency."""
from __future__ import annotations

from collections import deque
import cv2
import numpy as np

from metahmr_video.core.profiling import StageTimes
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.sinks.render import render_meshes, track_color

TITLE = "metahmr-video (q to quit)"


def draw_status(image: np.ndarray, text: str) -> np.ndarray:
    """`text` in white on a dark band at the top-left corner of an RGB image (drawn in place)."""
    scale = max(0.5, image.shape[0] / 960)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (0, 0), (w + 12, h + base + 12), (0, 0, 0), -1)
    cv2.putText(image, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


class LiveWindow:
    """A foreground sink (`Pipeline.run(..., foreground=[window])`) that shows each frame.

    Its people come posed, with vertices (`Runner.pipeline(..., vertices=True)`): the same records
    the other sinks get. faces/focal/center: the camera and mesh (pixels). With
    `times` (the pipeline's `StageTimes`), the status line shows frames per second over the last
    `window` frames shown and the latency of the shown frame (ms from entering detection to
    display); `status` holds the last line. q or Esc ends the run (KeyboardInterrupt).
    """

    def __init__(self, faces: np.ndarray, focal: float, center: tuple[float, float], times: StageTimes | None = None,
                 window: int = 30) -> None:
        self.faces, self.focal, self.center, self.times = faces, focal, center, times
        self._shown: deque[float] = deque(maxlen=max(2, window))
        self.status = ""

    def write(self, frame: Frame, people: list[PersonBody]) -> None:
        image = render_meshes(frame.image, [(p.vertices, track_color(p.track_id)) for p in people], self.faces,
                              self.focal, self.center)
        if self.times is not None:
            now = self.times.clock()
            self._shown.append(now)
            parts = []
            if len(self._shown) > 1 and self._shown[-1] > self._shown[0]:
                parts.append(f"{(len(self._shown) - 1) / (self._shown[-1] - self._shown[0]):.1f} fps")
            started = self.times.frames.get(frame.index)
            if started is not None and started.start is not None:
                parts.append(f"latency {1e3 * (now - started.start):.0f} ms")
            parts.append(f"{len(people)} people")
            self.status = "  ".join(parts)
            draw_status(image, self.status)
        cv2.imshow(TITLE, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise KeyboardInterrupt

    def close(self) -> None:
        cv2.destroyAllWindows()
