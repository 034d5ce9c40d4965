"""The real-pixel split's media: the `pose2sim` wheel's calibrated multi-view demo, fetched at
evaluation time with pip into a cache directory (never committed), and its camera calibration.

Source: `pose2sim==0.10.49` (BSD-3-Clause) ships `Pose2Sim/Demo_SinglePerson/` with four
synchronised views (`videos/cam01..04.mp4`, 100 frames, 60 fps, 1080x1920 portrait) of one person
walking on a force plate, and a Qualisys calibration (`calibration/Calib.qca.txt`).

Qualisys `.qca.txt` (XML), per `<camera>`: `<transform>` holds the camera's position (x, y, z, mm,
world frame) and orientation (r11..r33, row-major: the world-to-camera rotation into Qualisys'
camera frame, which looks along its -z axis with y up); `<intrinsic>` holds focal lengths and
principal point in 1/64 sub-pixels, radial k1, k2, k3 and tangential p1, p2 distortion
(OpenCV's model, on normalised coordinates); `<fov_video>` the image window in pixels.
"""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metahmr_video.core.errors import InputError, MetaHMRError

WHEEL = "pose2sim==0.10.49"
DEMO = "Pose2Sim/Demo_SinglePerson"
MULTI_DEMO = "Pose2Sim/Demo_MultiPerson"
DEFAULT_CACHE = Path.home() / ".cache" / "metahmr-video" / "realpix"
# Qualisys' camera frame (x right, y up, looking along -z) -> OpenCV's (x right, y down, z forward).
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


@dataclass
class Camera:
    """One calibrated view. World frame: the lab's (metres, z up). Camera frame: OpenCV (x right,
    y down, z forward), X_cam = R @ X_world + t. K [3,3] pixels; dist (k1, k2, p1, p2, k3) as
    OpenCV's distortion model; size (width, height) pixels."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    size: tuple[int, int]

    @property
    def P(self) -> np.ndarray:
        """[3,4] projection matrix of undistorted pixels: K [R | t]."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """[..., 3] world metres -> [..., 3] this camera's frame, metres."""
        return points_world @ self.R.T + self.t


def read_qca(path: str | Path) -> list[Camera]:
    """Cameras of a Qualisys `.qca.txt` calibration, sorted by name (see the module docstring)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{path}: not a readable Qualisys calibration ({exc})") from None
    cams = []
    for c in root.iter("camera"):
        tr, it, fov = c.find("transform"), c.find("intrinsic"), c.find("fov_video")
        if tr is None or it is None or fov is None:
            raise InputError(f"{path}: camera {c.get('serial')!r} lacks transform/intrinsic/fov_video")
        g = lambda e, k: float(e.get(k))  # noqa: E731
        world_to_cam = np.array([[g(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([g(tr, "x"), g(tr, "y"), g(tr, "z")]) / 1000.0
        R = _QUALISYS_TO_OPENCV @ world_to_cam
        left, top = g(fov, "left"), g(fov, "top")
        K = np.array([[g(it, "focalLengthU") / 64, 0.0, g(it, "centerPointU") / 64 - left],
                      [0.0, g(it, "focalLengthV") / 64, g(it, "centerPointV") / 64 - top],
                      [0.0, 0.0, 1.0]])
        dist = np.array([g(it, "radialDistortion1"), g(it, "radialDistortion2"), g(it, "tangentalDistortion1"),
                         g(it, "tangentalDistortion2"), g(it, "radialDistortion3")])
        size = (int(g(fov, "right") - left + 1), int(g(fov, "bottom") - top + 1))
        cams.append(Camera(c.get("serial"), K, dist, R, -R @ position, size))
    if not cams:
        raise InputError(f"{path}: no <camera> in the calibration")
    return sorted(cams, key=lambda c: c.name)


def fetch_demo(cache_dir: Path = DEFAULT_CACHE, demo: str = DEMO) -> Path:
    """Download (once) the pose2sim wheel with pip and extract a demo's (the single-person one by
    default; `MULTI_DEMO`: two people, the same calibration) videos and calibration into
    cache_dir; returns the demo folder."""
    extract([f"{demo}/calibration/Calib.qca.txt"] + [f"{demo}/videos/cam0{i}.mp4" for i in range(1, 5)], cache_dir)
    return Path(cache_dir) / demo


def extract(members: list[str], cache_dir: Path = DEFAULT_CACHE) -> list[Path]:
    """Files of the pose2sim wheel (paths inside it) extracted into cache_dir, the wheel downloaded
    once with pip; returns their paths. Raises MetaHMRError when pip fails or a file is missing."""
    cache_dir = Path(cache_dir)
    needed = [cache_dir / m for m in members]
    if all(p.is_file() for p in needed):
        return needed
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("pose2sim-0.10.49-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(cache_dir), "-q"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(cache_dir.glob("pose2sim-0.10.49-*.whl"))
        if r.returncode != 0 or not wheels:
            raise MetaHMRError(f"could not download {WHEEL} with pip: {r.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(cache_dir, members=[n for n in zf.namelist() if n in members])
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise MetaHMRError(f"{wheels[0].name} lacks {', '.join(missing)}")
    return needed
