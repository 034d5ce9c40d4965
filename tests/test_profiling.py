"""Stage timing, the background writer, the live window's status line, and `run --profile`."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from metahmr_video.core.profiling import StageTimes
from metahmr_video.core.records import Frame
from metahmr_video.sinks.background import BackgroundWriter

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "single_person.mp4"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_stage_times_per_frame_gaps_and_latency():
    clock = FakeClock()
    times = StageTimes(clock)
    # frame i starts at 40 i ms, detects for 10 ms, adapts for 20 ms (frame 2: 150 ms), finishes after it
    for i in range(4):
        clock.t = 0.040 * i if i < 3 else 0.300
        times.start(i)
        with times.section("detect", i):
            clock.t += 0.010
        with times.section("adapt", i):
            clock.t += 0.150 if i == 2 else 0.020
        times.add("adapt", i, 0.001)  # sections of one stage add up
        times.finish(i)
    s = times.summary()
    assert s["frames"] == 4
    assert s["stages"]["detect"]["ms_per_frame"] == pytest.approx(10.0)
    assert s["stages"]["adapt"]["ms_per_frame"] == pytest.approx((3 * 21 + 151) / 4)
    assert s["stages"]["adapt"]["max_ms"] == pytest.approx(151.0)
    # finishes at 30, 70, 240, 330 ms: the longest gap ends at frame 2, the highest latency is frame 2's
    assert s["worst_gap"]["index"] == 2 and s["worst_gap"]["ms"] == pytest.approx(170.0)
    assert s["worst_latency"]["index"] == 2 and s["worst_latency"]["ms"] == pytest.approx(160.0)
    assert s["worst_latency"]["stages"]["adapt"] == pytest.approx(151.0)
    assert s["fps"] == pytest.approx(4 / 0.330)
    text = times.report()
    assert re.search(r"detect\s+10\.0\s+10\.0", text) and "170 ms at frame 2" in text


def test_timed_iteration_adds_each_items_time():
    clock = FakeClock()
    times = StageTimes(clock)

    def frames():
        for i in range(3):
            clock.t += 0.002 * (i + 1)
            yield Frame(i, 0.0, np.zeros((2, 2, 3), np.uint8))

    assert [f.index for f in times.timed(frames(), "decode")] == [0, 1, 2]
    assert [times.frames[i].stages["decode"] for i in range(3)] == pytest.approx([0.002, 0.004, 0.006])


def test_background_writer_keeps_order_and_forwards_errors():
    seen, closed, threads = [], [], set()

    def write(frame, people):
        threads.add(threading.get_ident())
        if frame.index == 5:
            raise ValueError("disk full")
        seen.append(frame.index)

    w = BackgroundWriter(write, lambda: closed.append(True), depth=2)
    for i in range(5):
        w.write(Frame(i, 0.0, np.zeros((1, 1, 3), np.uint8)), [])
    w.close()
    assert seen == list(range(5)) and closed == [True] and threading.get_ident() not in threads

    w = BackgroundWriter(write, lambda: closed.append(True), depth=2)
    with pytest.raises(ValueError, match="disk full"):
        try:
            for i in range(5, 40):  # the error surfaces at a later write (or at close)
                w.write(Frame(i, 0.0, np.zeros((1, 1, 3), np.uint8)), [])
        finally:
            w.close()
    assert closed == [True, True] and seen == list(range(5))  # closed despite the error


def test_live_window_status_shows_fps_and_latency(monkeypatch):
    import cv2

    from metahmr_video.sinks.window import LiveWindow

    shown = []
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda ms: -1)
    clock = FakeClock()
    times = StageTimes(clock)
    win = LiveWindow(np.zeros((0, 3), int), 500.0, (32, 24), times)
    image = np.full((48, 64, 3), 90, np.uint8)
    for i in range(5):  # a frame every 40 ms, shown 65 ms after it entered detection
        times.start(i)
        clock.t += 0.065
        win.write(Frame(i, i / 25, image), [])
        clock.t += 0.040 - 0.065
    assert win.status == "25.0 fps  latency 65 ms  0 people"
    assert len(shown) == 5
    assert (shown[-1][:8, :8] != 90).any() and (shown[-1][-8:, -8:] == 90).all()  # the status band, top-left only


def test_run_profile_prints_stages_and_worst_frame(tmp_path, capsys):
    from metahmr_video.app.cli import main

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("adapt:\n  steps: 1\n")
    assert main(["run", str(CLIP), "-o", str(tmp_path / "out"), "--config", str(cfg), "-q", "--profile"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"profile: 100 frames, [\d.]+ fps", out), out
    rows = dict(re.findall(r"^\s+(\S+)\s+([\d.]+)\s+[\d.]+$", out, re.M))
    for stage in ("decode", "detect", "detect.landmarks", "track", "adapt", "smooth", "sinks"):
        assert float(rows[stage]) >= 0.0, out
    assert float(rows["detect"]) >= float(rows["detect.landmarks"]) > 0.0
    assert re.search(r"longest gap between two frames: \d+ ms at frame \d+ \(decode", out), out
    assert re.search(r"highest latency: \d+ ms at frame \d+", out), out
