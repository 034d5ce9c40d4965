"""Frame sources: identical frames to a reference decode, timestamps, rotation, bad input."""

from __future__ import annotations

import os

import av
import cv2
import numpy as np
import pytest

from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Frame
from metahmr_video.sources import (ImageFolderSource, ImageSource, VideoSource, WebcamSource, apply_rotation,
                                   open_source, prefetch)

MEDIA = os.path.join(os.path.dirname(__file__), "..", "examples", "media")


def _frames(n=12, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img[: 8, : 8] = (255, 0, 0) if i % 2 else (0, 0, 255)
        out.append(img)
    return out


def _write(path, frames, codec, pix_fmt, rate=25, options=None, rotation=None):
    c = av.open(str(path), "w")
    s = c.add_stream(codec, rate=rate)
    s.width, s.height = frames[0].shape[1], frames[0].shape[0]
    s.pix_fmt = pix_fmt
    if options:
        s.options = options
    if rotation is not None:
        s.set_display_rotation(rotation)
    for f in frames:
        for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()


def test_lossless_video_gives_the_exact_frames_and_times(tmp_path):
    frames = _frames()
    path = tmp_path / "lossless.mkv"
    _write(path, frames, "ffv1", "bgr0", rate=25)
    src = VideoSource(path)
    assert src.fps == pytest.approx(25.0)
    got = list(src)
    assert len(got) == len(frames)
    for i, (f, ref) in enumerate(zip(got, frames)):
        assert isinstance(f, Frame) and f.index == i
        assert f.image.dtype == np.uint8 and f.image.shape == ref.shape
        np.testing.assert_array_equal(f.image, ref)
        assert f.time_s == pytest.approx(i / 25.0, abs=1e-3)
    assert not src.truncated


def test_h264_matches_opencv_reference_decode(tmp_path):
    frames = [cv2.GaussianBlur(f, (9, 9), 3) for f in _frames(10, 96, 128)]
    path = tmp_path / "clip.mp4"
    _write(path, frames, "libx264", "yuv420p", rate=30, options={"crf": "18"})
    ours = [f.image for f in VideoSource(path)]
    cap = cv2.VideoCapture(str(path))
    ref = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        ref.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(ours) == len(ref) == 10
    for a, b in zip(ours, ref):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.0  # same decoder, colour conversion may differ by rounding


def test_rotation_metadata_is_applied(tmp_path):
    frames = _frames(3, 32, 64)
    path = tmp_path / "rot.mp4"
    _write(path, frames, "libx264rgb", "rgb24", options={"qp": "0"}, rotation=90)
    got = list(VideoSource(path))
    assert got[0].image.shape == (64, 32, 3)
    np.testing.assert_array_equal(got[0].image, np.rot90(frames[0]))
    assert apply_rotation(frames[0], -90).shape == (64, 32, 3)
    np.testing.assert_array_equal(apply_rotation(frames[0], 180), frames[0][::-1, ::-1])


def test_max_frames_and_real_clip_metadata():
    src = VideoSource(os.path.join(MEDIA, "pedestrians.mp4"), max_frames=5)
    assert (src.width, src.height) == (768, 576) and src.fps == pytest.approx(10.0)
    got = list(src)
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert [round(f.time_s, 3) for f in got] == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_images_and_folders(tmp_path):
    frames = _frames(3)
    for i, f in zip([10, 2, 1], frames):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(str(tmp_path), fps=5)
    assert isinstance(src, ImageFolderSource) and len(src) == 3
    got = list(src)
    np.testing.assert_array_equal(got[0].image, frames[2])  # f1, f2, f10: natural order
    np.testing.assert_array_equal(got[2].image, frames[0])
    assert got[2].time_s == pytest.approx(0.4)
    one = open_source(os.path.join(MEDIA, "astronaut.jpg"))
    assert isinstance(one, ImageSource)
    (f,) = list(one)
    assert f.image.shape == (512, 512, 3)


class FakeCapture:
    """Stands in for cv2.VideoCapture: BGR frames from a list, then end of stream."""

    def __init__(self, frames_bgr, opened=True):
        self.frames = list(frames_bgr)
        self.opened = opened
        self.released = False
        self.props = {}

    def isOpened(self):
        return self.opened

    def read(self):
        if not self.frames:
            return False, None
        return True, self.frames.pop(0)

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True


def test_webcam_with_a_fake_camera():
    frames = _frames(4)
    bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
    fake = FakeCapture(bgr)
    cam = WebcamSource(0, width=64, height=48, capture_factory=lambda i: fake)
    got = list(cam)
    assert len(got) == 4 and cam.fps == 30.0
    for f, ref in zip(got, frames):
        np.testing.assert_array_equal(f.image, ref)
    assert all(b.time_s >= a.time_s for a, b in zip(got, got[1:]))
    assert fake.props[cv2.CAP_PROP_FRAME_WIDTH] == 64
    cam.close()
    assert fake.released
    limited = WebcamSource(0, max_frames=2, capture_factory=lambda i: FakeCapture(bgr))
    assert len(list(limited)) == 2


def test_webcam_that_cannot_open_or_read():
    with pytest.raises(InputError, match="cannot open webcam 7"):
        WebcamSource(7, capture_factory=lambda i: FakeCapture([], opened=False))
    with pytest.raises(InputError, match="delivers no frames"):
        WebcamSource(3, capture_factory=lambda i: FakeCapture([]))


def test_prefetch_matches_and_forwards_errors(tmp_path):
    frames = _frames(6)
    path = tmp_path / "a.mkv"
    _write(path, frames, "ffv1", "bgr0")
    got = list(prefetch(VideoSource(path), depth=2))
    assert [f.index for f in got] == list(range(6))
    np.testing.assert_array_equal(got[5].image, frames[5])

    def broken():
        yield Frame(0, 0.0, frames[0])
        raise InputError("boom")

    with pytest.raises(InputError, match="boom"):
        list(prefetch(broken()))


def test_missing_empty_and_text_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        VideoSource(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        VideoSource(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 20)
    with pytest.raises(InputError, match="not a readable video"):
        VideoSource(text)
    with pytest.raises(InputError, match="not found"):
        ImageSource(tmp_path / "nope.png")
    bad_img = tmp_path / "bad.png"
    bad_img.write_text("nope")
    with pytest.raises(InputError, match="not a readable image"):
        ImageSource(bad_img)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no images"):
        ImageFolderSource(tmp_path / "nothing")
    with pytest.raises(InputError, match="folder"):
        VideoSource(tmp_path / "nothing")


def test_truncated_videos(tmp_path):
    frames = _frames(30, 64, 80)
    # mp4 with its index at the end: cutting it loses the index -> one clear error
    mp4 = tmp_path / "full.mp4"
    _write(mp4, frames, "libx264", "yuv420p", options={"crf": "30"})
    data = mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt, truncated"):
        list(VideoSource(cut))
    # a streamable container cut in the middle: the frames that are there, then a clean stop
    mkv = tmp_path / "full.mkv"
    _write(mkv, frames, "ffv1", "bgr0")
    data = mkv.read_bytes()
    cut2 = tmp_path / "cut.mkv"
    cut2.write_bytes(data[: int(len(data) * 0.6)])
    src = VideoSource(cut2)
    got = list(src)
    assert 5 <= len(got) < 30
    assert src.truncated  # Matroska's header announced 30 frames
    for f, ref in zip(got[:-1], frames):
        np.testing.assert_array_equal(f.image, ref)
