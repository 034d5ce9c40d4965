"""One configuration for every stage, as a dataclass; loadable from YAML or JSON. Unknown keys are
an error (one line naming them), so typos do not pass silently. Each stage owns its settings
(`DetectorConfig`, `TrackerConfig`, `AdaptConfig`, `SmootherConfig`, `DefinitionsConfig`, `WorldConfig`: their defaults are the
pipeline's); this module gathers them with the output settings."""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metahmr_video.adapt import AdaptConfig
from metahmr_video.detect import DetectorConfig
from metahmr_video.core.errors import InputError
from metahmr_video.smooth import DefinitionsConfig, SmootherConfig
from metahmr_video.track import TrackerConfig
from metahmr_video.world import WorldConfig


@dataclass(frozen=True)
class OutputConfig:
    """npz: per-video results; overlay: mesh-over-frame MP4; side_view: add a side panel to it;
    vertices: store vertices in the NPZ (float16); flush_every_s: NPZ rewrite period; frame: the
    frame of `--export` files, "world" (the run's ground, when found) or "camera"."""

    npz: bool = True
    overlay: bool = False
    side_view: bool = False
    vertices: bool = False
    flush_every_s: float = 5.0
    frame: str = "world"


@dataclass(frozen=True)
class Config:
    """device: cpu, cuda or auto. threads: torch's CPU threads and numpy's BLAS threads; per-frame
    batches are small, and on a busy 2-core machine two OpenMP threads made one adaptation step 30x
    slower than one thread, and OpenBLAS's idle worker, spinning between numpy's small products,
    took a core from the detector (one person: 23 -> 33-39 fps with one BLAS thread).
    overlap: detect + track the next frame, and write the sinks, in threads beside adaptation
    (same results as the serial loop)."""

    device: str = "cpu"
    threads: int = 1
    overlap: bool = True
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    smoothing: SmootherConfig = field(default_factory=SmootherConfig)
    definitions: DefinitionsConfig = field(default_factory=DefinitionsConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def _type_name(hint) -> str:
    return " or ".join("null" if a is type(None) else getattr(a, "__name__", str(a)) for a in (typing.get_args(hint)
                       if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)))


def _accepts(hint, value) -> bool:
    """Whether a config value (from YAML/JSON) fits a field's annotation (int also fits float;
    a bool fits only bool)."""
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return any(_accepts(a, value) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is typing.Any:
        return True
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, (list, tuple)) and all(any(_accepts(a, v) for a in args) or not args for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check(hint, value, name: str) -> None:
    """A one-line InputError naming the dotted key when `value` does not fit its annotation."""
    if not _accepts(hint, value):
        raise InputError(f"config: {name} must be {_type_name(hint)}, got {value!r}")


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise InputError(f"config: '{where or 'top level'}' must be a mapping")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InputError(f"config: unknown key(s) {', '.join((where + '.' if where else '') + u for u in unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        default = getattr(cls(), key)
        name = f"{where}.{key}".strip(".")
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, name)
        else:
            _check(hints[key], value, name)
            kwargs[key] = tuple(value) if isinstance(default, tuple) else value
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


def override(cfg, changes: dict[str, object]):
    """A copy of a (frozen) config with dotted keys replaced, each value type-checked like a config
    file's: `override(cfg, {"adapt.steps": 3, "output.overlay": True})`."""
    for dotted, value in changes.items():
        cfg = _replace(cfg, dotted.split("."), value, dotted)
    return cfg


def _replace(obj, path: list[str], value, dotted: str):
    if not dataclasses.is_dataclass(obj) or path[0] not in {f.name for f in dataclasses.fields(obj)}:
        raise InputError(f"config: unknown key {dotted}")
    if len(path) > 1:
        return dataclasses.replace(obj, **{path[0]: _replace(getattr(obj, path[0]), path[1:], value, dotted)})
    if not dataclasses.is_dataclass(value):
        _check(typing.get_type_hints(type(obj))[path[0]], value, dotted)
    return dataclasses.replace(obj, **{path[0]: value})


def config_dict(cfg: Config) -> dict:
    """The config as plain data (for the results' metadata)."""
    return dataclasses.asdict(cfg)
