"""What a new user meets first: help and version, photos, a truncated video, Ctrl-C during start-up,
the webcam demo without a camera, native libraries' start-up noise, and the README's snippet."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from metahmr_video.app.config import override
from metahmr_video.core.results import load_results

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "examples" / "media"


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "metahmr_video.app.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kw)


def _lines(text):
    return [ln for ln in text.strip().splitlines() if ln.strip()]


def test_version_and_run_help(capsys):
    from metahmr_video import __version__
    from metahmr_video.app.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"metahmr-video {__version__}"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"input\s+a video file; an image file \(a photo\)", text)
    assert "--photos" in text and "--sequence" in text and "numbers" in text


def test_numbered_images_are_a_sequence_and_others_photos(tmp_path):
    from metahmr_video.app.runner import is_numbered_sequence, list_inputs

    assert is_numbered_sequence(["frame_0001.png", "frame_0002.png", "frame_0003.png"])
    assert is_numbered_sequence(["10.jpg", "20.jpg", "30.jpg"])          # every 10th frame
    assert not is_numbered_sequence(["IMG_1234.jpg", "IMG_1240.jpg", "IMG_1241.jpg"])
    assert not is_numbered_sequence(["astronaut.jpg", "basketball1.png"])
    assert not is_numbered_sequence(["a1.png", "b2.png"]) and not is_numbered_sequence(["f1.png"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.jpg", "basketball1.png"):
        shutil.copy(MEDIA / name, photos / name)
    assert list_inputs(photos) == [photos / "astronaut.jpg", photos / "basketball1.png"]
    assert list_inputs(photos, images="sequence") == [photos]
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in (1, 2, 10):
        shutil.copy(MEDIA / "astronaut.jpg", frames / f"f_{i:03d}.jpg")
    assert list_inputs(frames / "f_001.jpg") == [frames / "f_001.jpg"]
    assert list_inputs(frames) == [frames / f"f_{i:03d}.jpg" for i in (1, 2, 10)]  # 1, 2, 10: not even
    (frames / "f_010.jpg").rename(frames / "f_003.jpg")
    assert list_inputs(frames) == [frames]
    assert len(list_inputs(frames, images="photos")) == 3


def test_photos_are_independent_at_their_own_size(runner, tmp_path):
    """Two unrelated photos: one result each, at native size, each person found (no track needs a
    second frame), the overlay as PNG of the photo's size."""
    import cv2

    from metahmr_video.app.runner import run_input

    default = runner.config
    runner.config = override(default, {"output.overlay": True})
    try:
        for name, size, people in (("astronaut.jpg", (512, 512), 1), ("basketball1.png", (640, 480), 2)):
            summary = run_input(runner, MEDIA / name, tmp_path)
            stem = Path(name).stem
            assert summary.outputs == [tmp_path / f"{stem}.npz", tmp_path / f"{stem}_overlay.png"]
            res = load_results(tmp_path / f"{stem}.npz")
            assert res.meta["image_size"] == list(size) and res.meta["num_frames"] == 1
            assert sorted(res.tracks) == list(range(1, people + 1)), name
            assert all(list(t.frame_ids) == [0] for t in res.tracks.values())
            overlay = cv2.imread(str(tmp_path / f"{stem}_overlay.png"))
            assert overlay.shape[:2] == size[::-1]
            assert (overlay != cv2.imread(str(MEDIA / name))).any()    # meshes drawn on it
    finally:
        runner.config = default


def _write_mkv(path, frames):
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "bgr0"
        for i in range(frames):
            img = np.full((120, 160, 3), 40 + 4 * i, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def test_truncated_video_keeps_its_frames_and_fails_in_one_line(tmp_path):
    full = tmp_path / "full.mkv"
    _write_mkv(full, 30)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("adapt:\n  steps: 0\n")
    r = _cli("run", cut, "-o", tmp_path / "out", "--config", cfg, "-q")
    assert r.returncode == 2, r.stderr
    lines = _lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("metahmr-video: error:") and "truncated" in lines[0], r.stderr
    res = load_results(tmp_path / "out" / "cut.npz")
    assert 5 <= res.meta["num_frames"] < 30
    assert f"wrote {tmp_path / 'out' / 'cut.npz'}" in r.stdout  # the summary names the files


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "metahmr_video.app.cli", "run", str(MEDIA / "pedestrians.mp4"),
                             "-o", str(tmp_path / "out"), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # importing torch and loading the models take several seconds
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    # 130, or -SIGINT where CPython re-raises the signal after an interrupt inside a C extension's import
    assert proc.returncode in (130, -signal.SIGINT), err
    assert _lines(err) == ["metahmr-video: interrupted"], err


def test_webcam_demo_without_a_camera_is_one_line():
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "webcam_demo.py"), "97"], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    lines = _lines(r.stderr)
    assert len(lines) == 1 and "cannot open webcam 97" in lines[0], r.stderr


def test_no_native_cuda_warning_on_cpu_machines(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    r = _cli("demo", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Warp CUDA warning" not in r.stderr and "CUDA driver" not in r.stderr, r.stderr


def test_readme_snippet_puts_the_body_in_front_of_the_camera(anny_body):
    """The README's Python snippet, run as written: bodies stand upright in the camera frame (y down),
    face the camera, and their pelvises are 3 and 4 m in front of it."""
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Python in a few lines\s+```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    out = scope["out"]
    from metahmr_video.core.layout import Landmark

    kp = out.keypoints.numpy()
    np.testing.assert_allclose(out.joints[:, 0].numpy(), [[0, 0, 3.0], [1, 0, 4.0]], atol=1e-5)
    head, feet = kp[:, Landmark.NOSE], kp[:, [Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE]].mean(1)
    assert (head[:, 1] < -0.4).all() and (feet[:, 1] > 0.6).all()       # up is -y
    assert (head[:, 2] < out.joints[:, 0, 2].numpy()).all()             # the nose is nearer: facing us
    left, right = kp[:, Landmark.LEFT_SHOULDER, 0], kp[:, Landmark.RIGHT_SHOULDER, 0]
    assert (left > right).all()                                          # their left on our right


def test_a_ctrl_c_that_a_library_swallows_still_ends_the_run(tmp_path, monkeypatch, capsys):
    """SIGINT arrives while a library's bare `except:` runs (it eats the KeyboardInterrupt): the run
    still stops at the next frame, keeps what it computed and exits with 130."""
    from metahmr_video.app import interrupts
    from metahmr_video.app.cli import main
    from metahmr_video.app.pipeline import Pipeline
    from metahmr_video.core.results import load_results
    from clips import write_clip_head

    clip = write_clip_head(tmp_path / "clip.mp4", 12)
    bodies = Pipeline.bodies

    def swallowing(self, frame, tracked):
        if frame.index == 3:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)  # the handler raises in here...
            except BaseException:  # noqa: B036 - ...and a careless library catches it
                pass
        return bodies(self, frame, tracked)

    monkeypatch.setattr(Pipeline, "bodies", swallowing)
    try:
        status = main(["run", str(clip), "-o", str(tmp_path / "out"), "--steps", "0", "-q"])
    finally:
        interrupts.install()  # forgets the request: later runs in this process are not interrupted
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert status == 130, capsys.readouterr()
    assert 3 <= load_results(tmp_path / "out" / "clip.npz").meta["num_frames"] < 12


def test_a_photo_gets_its_own_steps_and_no_frame_budget(runner):
    """A photo's people each get `AdaptConfig.photo_steps` (20: nothing to carry over, no frame rate
    to keep), however many; a video's frame keeps its budget; `--steps N` is exact for both."""
    from metahmr_video.app.cli import _load_config, build_parser

    assert runner.config.adapt.photo_steps == 20
    photo = runner.pipeline(700.0, photo=True).adapter
    video = runner.pipeline(700.0).adapter
    assert [photo.steps(n) for n in (1, 6, 40)] == [20, 20, 20]
    assert [video.steps(n) for n in (1, 6)] == [runner.fitter.default_steps, 1]
    argv = ["run", "x.jpg", "--steps", "4"]
    cfg = _load_config(build_parser(argv).parse_args(argv))
    assert (cfg.adapt.steps, cfg.adapt.photo_steps, cfg.adapt.frame_steps) == (4, 4, None)


def test_every_command_and_option_explains_itself():
    """`metahmr-video CMD --help` opens with a one-line description and every option has help text."""
    import argparse

    from metahmr_video.app.cli import build_parser

    for cmd in ["demo", "run", "webcam", "meshes", "view", "benchmark", "export", "train", "evaluate"]:
        sub = next(a for a in build_parser([cmd])._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[cmd]
        assert parser.description and "\n" not in parser.description.strip(), cmd
        assert [a.dest for a in parser._actions if not a.help] == [], cmd


def test_a_run_without_people_does_not_report_a_reprojection_error():
    from metahmr_video.app.pipeline import RunSummary

    assert RunSummary(frames=1, seconds=0.5).line() == "1 frames, no person found, 2.0 fps"
    line = RunSummary(frames=2, tracks={1}, person_frames=2, reproj_sum=6.0, seconds=1.0).line()
    assert "mean reprojection error 3.0 px" in line


def test_a_wrong_type_in_a_config_is_one_line_naming_the_key(tmp_path):
    from metahmr_video.app.config import load_config
    from metahmr_video.core.errors import InputError

    for text, message in (("tracker:\n  min_hits: two\n", "config: tracker.min_hits must be int, got 'two'"),
                          ("adapt:\n  steps: 2.5\n", "config: adapt.steps must be int or null, got 2.5"),
                          ("overlap: 1\n", "config: overlap must be bool, got 1"),
                          ("definitions:\n  landmarks: [3]\n", "config: definitions.landmarks must be list, got [3]")):
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(InputError) as err:
            load_config(tmp_path / "c.yaml")
        assert str(err.value) == message
    (tmp_path / "c.yaml").write_text("adapt:\n  focal: 800\n  steps: null\ntracker:\n  facing:\n    max_skip: 3\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.adapt.focal == 800 and cfg.tracker.facing.max_skip == 3
    with pytest.raises(Exception):  # frozen: settings change only by building a new config
        cfg.adapt.steps = 3
    assert override(cfg, {"adapt.steps": 3}).adapt.steps == 3 and cfg.adapt.steps is None
    with pytest.raises(InputError, match="config: output.overlay must be bool"):
        override(cfg, {"output.overlay": "yes"})
