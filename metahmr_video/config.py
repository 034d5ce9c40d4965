"""One configuration for every stage, as a dataclass; loadable from YAML or JSON. Unknown keys are
an error (one line naming them), so typos do not pass silently."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metahmr_video.errors import InputError
from metahmr_video.smooth import SmootherConfig


@dataclass
class DetectorConfig:
    """MultiPersonDetector settings: see `metahmr_video.detect.MultiPersonDetector`."""

    min_score: float = 0.5
    tiles: int = 0
    use_hog: bool = True
    full_every: int = 5


@dataclass
class TrackerConfig:
    """Tracker settings (frames): births after `min_hits`, deaths after `max_age` unmatched frames."""

    min_hits: int = 2
    max_age: int = 15


@dataclass
class AdaptConfig:
    """steps: TTO steps per person and frame (None: the checkpoint's default); checkpoint: path or
    None for the shipped one; max_batch: people per batched computation; focal: pixels or None;
    temporal_prior: weight of the previous frame's body of a track as a prior in TTO (0 = off)."""

    steps: int | None = None
    checkpoint: str | None = None
    max_batch: int = 32
    focal: float | None = None
    temporal_prior: float = 0.03


@dataclass
class OutputConfig:
    """npz: per-video results; overlay: mesh-over-frame MP4; side_view: add a side panel to it;
    vertices: store vertices in the NPZ (float16); flush_every_s: NPZ rewrite period."""

    npz: bool = True
    overlay: bool = False
    side_view: bool = False
    vertices: bool = False
    flush_every_s: float = 5.0


@dataclass
class Config:
    """device: cpu, cuda or auto. threads: torch CPU threads; per-frame batches are small, and on a
    busy 2-core machine two OpenMP threads made one adaptation step 30x slower than one thread."""

    device: str = "cpu"
    threads: int = 1
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    smoothing: SmootherConfig = field(default_factory=SmootherConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise InputError(f"config: '{where or 'top level'}' must be a mapping")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InputError(f"config: unknown key(s) {', '.join((where + '.' if where else '') + u for u in unknown)}")
    kwargs = {}
    for key, value in data.items():
        default = getattr(cls(), key)
        kwargs[key] = _build(type(default), value, f"{where}.{key}".strip(".")) if dataclasses.is_dataclass(default) else value
    return cls(**kwargs)


def load_config(path: str | Path | None) -> Config:
    """Config from a YAML/JSON file (None: defaults)."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'} ({str(exc).splitlines()[0]})") from None
    return _build(Config, data or {}, "")


def config_dict(cfg: Config) -> dict:
    """The config as plain data (for the results' metadata)."""
    return dataclasses.asdict(cfg)
