"""`run --ray` on a local Ray with 2 workers (skipped without the `ray` extra): the same files as a
serial run, a killed worker's video retried, a corrupt video reported once without stopping the
others, and resume (what counts as complete, and a second run that skips everything). Two clips of
6 frames cut from the example video keep it short."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from metahmr_video.app.cli import main
from metahmr_video.app.config import Config, override
from metahmr_video.app.distributed import MANIFEST, VideoWorker, is_complete, run_distributed, settings_fingerprint

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from scale import EXAMPLE, cut_clips, same_results  # noqa: E402


class DiesOnceWorker(VideoWorker):
    """Kills its own process the first time it starts clip0 (a flag file in the output folder)."""

    def process(self, path, out_dir, formats, rig):
        flag = Path(out_dir) / "killed-once"
        if Path(path).name == "clip0.mp4" and not flag.exists():
            flag.write_text("")
            os._exit(1)
        return super().process(path, out_dir, formats, rig)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return cut_clips(EXAMPLE, folder, clips=2, frames=6)


@pytest.fixture(scope="module")
def serial(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert main(["run", str(clips[0].parent), "-o", str(out), "-q", "--export", "bvh"]) == 0
    return out


def test_ray_run_equals_serial_retries_and_resumes(clips, serial, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    out = tmp_path / "ray"
    summary = run_distributed([*clips, corrupt], out, Config(), workers=2, formats=["bvh"], show_progress=False,
                              worker_cls=DiesOnceWorker)
    assert sorted(Path(p).name for p in summary.done) == ["clip0.mp4", "clip1.mp4"]
    assert list(summary.failed) == [str(corrupt)] and summary.retries == 1        # the corrupt file: no retry
    assert (out / "killed-once").exists()
    (out / "killed-once").unlink()
    # The same files as the serial run: results key by key, BVH text byte by byte.
    assert same_results(serial, out)
    bvh = sorted(p.name for p in serial.glob("*.bvh"))
    assert bvh and bvh == sorted(p.name for p in out.glob("*.bvh"))
    assert all((serial / n).read_bytes() == (out / n).read_bytes() for n in bvh)
    # Resume: a second run (through the CLI) finds both clips complete and touches nothing.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["run", str(clips[0].parent), "-o", str(out), "-q", "--export", "bvh", "--ray"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def test_what_counts_as_complete(clips, serial, tmp_path):
    """The manifest rule, without Ray: a line per finished video, checked against the source, the
    settings and the outputs as they are now."""
    import json

    out = tmp_path / "out"
    out.mkdir()
    clip = clips[1]
    result = out / "clip1.npz"
    result.write_bytes((serial / "clip1.npz").read_bytes())
    st = clip.stat()
    record = dict(source=str(clip.resolve()), size=st.st_size, mtime_ns=st.st_mtime_ns,
                  settings=settings_fingerprint(Config(), ["bvh"], None), outputs={"clip1.npz": result.stat().st_size})
    (out / MANIFEST).write_text(json.dumps(record) + "\n")
    fingerprint = record["settings"]
    assert is_complete(record, clip, fingerprint, out)
    assert not is_complete(None, clip, fingerprint, out)                                   # never finished
    assert not is_complete(record, clip, settings_fingerprint(Config(), ["bvh"], "mixamo"), out)   # new settings
    other = override(Config(), {"adapt.steps": 9})
    assert not is_complete(record, clip, settings_fingerprint(other, ["bvh"], None), out)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1))                                # source changed
    assert not is_complete(record, clip, fingerprint, out)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    result.write_bytes(result.read_bytes()[:100])                                          # output truncated
    assert not is_complete(record, clip, fingerprint, out)
    result.unlink()                                                                         # output removed
    assert not is_complete(record, clip, fingerprint, out)
    # Only incomplete videos are handed to Ray: with everything complete, Ray never starts.
    result.write_bytes((serial / "clip1.npz").read_bytes())
    summary = run_distributed([clip], out, Config(), formats=["bvh"], show_progress=False)
    assert summary.skipped == [str(clip)] and not summary.done
    assert np.load(result)["track_ids"].size > 0


def test_ray_missing_says_how_to_install(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["run", str(clips[0].parent), "-o", str(tmp_path), "--ray"]) == 2
    assert "pip install 'metahmr-video[ray]'" in capsys.readouterr().err


def test_ray_over_photos_with_overlay_reports_the_files_it_wrote(tmp_path, capsys):
    """Photos get PNG overlays; the worker reports the files the sinks wrote (it once named them
    itself, reported `a_overlay.mp4` for a photo, and died on the missing file)."""
    import shutil

    pytest.importorskip("ray")
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ROOT / "examples" / "media" / "astronaut.jpg", photos / "a.jpg")
    out = tmp_path / "out"
    assert main(["run", str(photos), "-o", str(out), "-q", "--overlay", "--ray", "--workers", "1"]) == 0
    assert "1 done, 0 already complete, 0 failed" in capsys.readouterr().out
    manifest = [line for line in (out / MANIFEST).read_text().splitlines() if line]
    import json

    outputs = json.loads(manifest[0])["outputs"]
    assert sorted(outputs) == ["a.npz", "a_overlay.png"]
    assert all(outputs[n] == (out / n).stat().st_size > 0 for n in outputs)
