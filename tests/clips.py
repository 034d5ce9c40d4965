"""Short test videos cut from the example clip (re-encoded with PyAV); benchmarks/first_use.py uses
them too."""
from __future__ import annotations

from pathlib import Path

import av

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "pedestrians.mp4"


def write_clip_head(path: Path, frames: int, rate: int = 25) -> Path:
    """The first `frames` frames of the example clip (768 x 576) as an MPEG-4 video at `rate` fps."""
    with av.open(str(CLIP)) as src, av.open(str(path), "w") as dst:
        out = dst.add_stream("mpeg4", rate=rate)
        out.width, out.height, out.pix_fmt = 768, 576, "yuv420p"
        for _, frame in zip(range(frames), src.decode(video=0)):
            for pkt in out.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                dst.mux(pkt)
        for pkt in out.encode():
            dst.mux(pkt)
    return path
