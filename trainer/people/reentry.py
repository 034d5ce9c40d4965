"""A re-entry clip for `evaluate --splits people` (issue 24: one id per person through leaving and
re-entering for up to 10 s). The labelled demo clips are 100 frames (1.7 s) long and nobody leaves
them, so one is made longer and someone is taken out of it for a while, on real pixels:
- the clip is played forwards, backwards, forwards, ... (frames 0..99, 98..1, 0..99, ...) up to
  `seconds` at its own frame rate, so its people keep moving and nothing jumps;
- from `hide_s[0]` to `hide_s[1]` seconds one labelled person is painted out in black: a box
  around them (their labelled boxes, linearly interpolated between the labelled frames, grown by
  `margin` x their height), as if a screen stood in front of them. What that box covers of someone
  else is hidden too: an occlusion, not only an absence. (A background plate was tried instead:
  the people of these clips stay on the same pixels, so the per-pixel median keeps a blurred copy of
  them.);
- labels: a derived frame keeps its source frame's labels (every 10th source frame is labelled), less
  the painted person and anyone else at least half under the black box while it is there: those are
  optional (an output on them is neither a find nor a false one) unless nearly all hidden (`HIDDEN`).
The clip is derived at evaluation time from the fetched footage and cached beside it (never
committed)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from metahmr_trainer.people.metrics import Boxes
from metahmr_video.core.boxes import box_inside


@dataclass(frozen=True)
class ReentryClip:
    """`source`: a labelled clip's name; `person`: the id hidden from `hide_s[0]` to `hide_s[1]`
    seconds of a clip `seconds` long."""

    source: str
    person: str
    hide_s: tuple[float, float] = (1.5, 8.5)
    seconds: float = 10.0
    margin: float = 0.1

    @property
    def name(self) -> str:
        return f"{self.source}#reentry-{self.person}-hidden-{self.hide_s[0]:g}-{self.hide_s[1]:g}s"

    def file(self, video: Path) -> Path:
        """Where the clip derived from `video` is cached: beside it."""
        return video.with_name(f"{video.stem}_reentry_{self.person}.mp4")


# A labelled person whose box is less than HIDDEN[0] under the black box is to be found, between the
# two may be found (optional), beyond HIDDEN[1] is not visible.
HIDDEN = (0.5, 0.9)
# The masked girl standing still at the frame's edge, away from the others; the jumping man, whose
# box also covers the woman's upper body at times.
REENTRY = (ReentryClip("Pose2Sim/Demo_MultiPerson/videos/cam02.mp4", "girl"),
           ReentryClip("Pose2Sim/Demo_MultiPerson/videos/cam02.mp4", "man"))


def source_frames(n_source: int, n_out: int) -> np.ndarray:
    """[n_out] source frame index of each derived frame: 0..n-1, n-2..1, 0..n-1, ..."""
    cycle = np.r_[np.arange(n_source), np.arange(n_source - 2, 0, -1)]
    return cycle[np.arange(n_out) % len(cycle)]


def person_box(labels: Boxes, person: str, frame: int) -> np.ndarray | None:
    """`person`'s box [4] (pixels) at a source `frame`, interpolated between their labelled frames."""
    frames = sorted(f for f, people in labels.items() if any(p == person for p, _ in people))
    if not frames:
        return None
    boxes = np.stack([next(b for p, b in labels[f] if p == person) for f in frames])
    return np.array([np.interp(frame, frames, boxes[:, k]) for k in range(4)])


def build(clip: ReentryClip, video: Path, labels: Boxes, out: Path) -> tuple[Boxes, Boxes]:
    """Write the derived clip of `video` (the source clip, labelled by `labels`) to `out` (kept when
    it exists) and return its labels and its optional people (each derived frame -> [(id, box)],
    pixels; `metrics.score`'s `labels` and `optional`)."""
    with av.open(str(video)) as src:
        stream = src.streams.video[0]
        rate, n_source = stream.average_rate, stream.frames or sum(1 for _ in src.decode(stream))
    n_out = int(round(clip.seconds * float(rate)))
    order = source_frames(n_source, n_out)
    hidden = (np.arange(n_out) >= clip.hide_s[0] * float(rate)) & (np.arange(n_out) < clip.hide_s[1] * float(rate))
    masks = {j: _mask_box(clip, labels, int(order[j])) for j in np.flatnonzero(hidden)}
    if not out.is_file():
        with av.open(str(video)) as src:
            frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
        tmp = out.with_suffix(".part.mp4")
        with av.open(str(tmp), "w") as dst:
            s = dst.add_stream("libx264", rate=rate)
            s.height, s.width = frames[0].shape[:2]
            s.pix_fmt = "yuv420p"
            s.options = {"crf": "18", "preset": "veryfast"}
            for j, k in enumerate(order):
                image = frames[k]
                if hidden[j]:
                    image = image.copy()
                    x0, y0, x1, y1 = masks[j]
                    image[y0:y1, x0:x1] = 0
                dst.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            dst.mux(s.encode())
        tmp.rename(out)

    def hidden_share(j: int, box: np.ndarray) -> float:
        return box_inside(box, masks[j]) if hidden[j] else 0.0

    derived = {j: labels[int(k)] for j, k in enumerate(order) if int(k) in labels}
    return ({j: [(p, b) for p, b in people if not hidden[j] or (p != clip.person and hidden_share(j, b) < HIDDEN[0])]
             for j, people in derived.items()},
            {j: [(p, b) for p, b in people if hidden[j] and (p == clip.person or hidden_share(j, b) >= HIDDEN[0])
                 and hidden_share(j, b) < HIDDEN[1]] for j, people in derived.items()})


def _mask_box(clip: ReentryClip, labels: Boxes, frame: int) -> np.ndarray:
    """[4] int pixels painted black at a source `frame`: the hidden person's box, grown."""
    box = person_box(labels, clip.person, frame)
    grow = clip.margin * (box[3] - box[1])
    return np.r_[np.maximum(np.floor(box[:2] - grow), 0), np.ceil(box[2:] + grow)].astype(int)
