"""Many videos across a Ray cluster: `metahmr-video run FOLDER -o OUT --ray [ADDRESS]` (the `ray` extra).

One Ray actor per worker (`VideoWorker`, `config.threads` CPUs and torch threads each) builds the
models once and runs whole videos, writing into OUT exactly the files a serial run writes (results
NPZ, overlay MP4, `--export` animation files). The driver hands each video to the next free worker,
shows one progress bar across videos, and retries a video whose worker failed or was killed (Ray
restarts the actor) up to `retries` times; bad input (a corrupt video) is reported once, not retried;
a failure never stops the other videos.

Resume: after each video the driver appends a line to OUT/`MANIFEST` (its source path, size and
modification time, a fingerprint of the settings, and every output file, relative to OUT, with its
size). A video is complete when its latest line matches the source as it is now and the current
settings, and every file it lists is there with that size; a second run skips complete videos.
Anything else (never run, interrupted, killed, source or settings changed, an output removed or
truncated) runs again.

Without ADDRESS a local Ray starts on this machine with as many CPUs as workers need. On a cluster,
inputs and OUT must be on storage every node sees at the same path (docs/distributed.md).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from metahmr_video.app.config import Config, config_dict
from metahmr_video.core.errors import InputError, MetaHMRError

MANIFEST = "metahmr-video-done.jsonl"


def import_ray():
    """The `ray` module, or a one-line InputError saying how to get it."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'metahmr-video[ray]'") from None
    return ray


class VideoWorker:
    """One worker process: the models load once (in `__init__`), then `process` runs videos."""

    def __init__(self, config: Config) -> None:
        from metahmr_video.app.runner import Runner

        self.config = config
        self.runner = Runner(config)

    def ready(self) -> bool:
        """Answers once the worker is up (its models loaded)."""
        return True

    def process(self, path: str, out_dir: str, formats: list[str], rig: str | None) -> dict:
        """Run one video into out_dir (+ its exports); returns its summary line and every file written."""
        from metahmr_video.app.runner import export_video, result_name, run_input

        source, out = Path(path), Path(out_dir)
        summary = run_input(self.runner, source, out, show_progress=False)
        if summary.interrupted:
            raise MetaHMRError(f"{source}: interrupted after {summary.frames} frames")
        written = list(summary.outputs)  # what the sinks wrote (Runner.sinks_for names them)
        if self.config.output.npz and summary.person_frames:
            written += export_video(out, result_name(source), formats, rig, self.config.output.frame)
        return dict(line=summary.line(), outputs=[str(p) for p in written])


@dataclass
class BatchSummary:
    """What a distributed run did: inputs done, skipped as complete, failed (with the reason), retries."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    def line(self) -> str:
        return (f"{len(self.done)} done, {len(self.skipped)} already complete, {len(self.failed)} failed, "
                f"{self.retries} retries")


def settings_fingerprint(config: Config, formats: list[str], rig: str | None) -> str:
    """A short hash of everything that shapes a video's outputs (the config, export formats, rig)."""
    text = json.dumps(dict(config=config_dict(config), export=sorted(formats), rig=rig), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _source_stat(path: Path) -> dict:
    st = path.stat()
    return dict(source=str(path.resolve()), size=st.st_size, mtime_ns=st.st_mtime_ns)


def _manifest(out_dir: Path) -> dict[str, dict]:
    """The latest manifest record per source path (unreadable lines are ignored)."""
    records = {}
    try:
        lines = (out_dir / MANIFEST).read_text().splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            rec = json.loads(line)
            records[rec["source"]] = rec
        except (ValueError, KeyError, TypeError):
            continue
    return records


def is_complete(record: dict | None, path: Path, fingerprint: str, out_dir: Path) -> bool:
    """Whether a manifest record says `path`'s outputs in out_dir are complete for these settings
    (module docstring)."""
    if record is None or record.get("settings") != fingerprint:
        return False
    if {k: record.get(k) for k in ("source", "size", "mtime_ns")} != _source_stat(path):
        return False
    for name, size in record.get("outputs", {}).items():
        try:
            if os.path.getsize(out_dir / name) != size:
                return False
        except OSError:
            return False
    return True


class _Dispatcher:
    """The driver's side: hands videos to free workers and deals with what comes back."""

    def __init__(self, ray, pool: list, todo: list[Path], out_dir: Path, formats: list[str], rig: str | None,
                 retries: int, fingerprint: str, summary: BatchSummary, bar, manifest) -> None:
        self.ray, self.pool, self.queue = ray, pool, list(todo)
        self.out_dir, self.formats, self.rig, self.retries = out_dir, formats, rig, retries
        self.fingerprint, self.summary, self.bar, self.manifest = fingerprint, summary, bar, manifest
        self.attempts = {str(p): 0 for p in todo}
        self.running: dict = {}                      # object ref -> (video or None for a readiness ping, actor)

    def run(self) -> None:
        for handle in self.pool:
            self.submit(handle)
        while self.running:
            (ref,), _ = self.ray.wait(list(self.running), num_returns=1)
            path, handle = self.running.pop(ref)
            try:
                result = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as exc:       # the worker died: killed, crashed, out of memory
                self.worker_died(path, handle, exc)
                continue
            except Exception as exc:                              # noqa: BLE001 - the video failed in the worker
                cause = getattr(exc, "cause", exc)
                if isinstance(cause, MetaHMRError) or not self.retry(path):   # bad input: once is enough
                    first = str(cause).strip().splitlines()
                    self.fail(path, first[0] if first else type(cause).__name__)
            else:
                if path is not None:
                    self.done(path, result)
            self.submit(handle)

    def submit(self, handle) -> None:
        if self.queue:
            path = self.queue.pop(0)
            self.attempts[str(path)] += 1
            ref = handle.process.remote(str(path), str(self.out_dir), self.formats, self.rig)
            self.running[ref] = (path, handle)

    def retry(self, path: Path) -> bool:
        """Queue `path` again (first in line) if it has attempts left."""
        if self.attempts[str(path)] > self.retries:
            return False
        self.summary.retries += 1
        self.queue.insert(0, path)
        return True

    def worker_died(self, path: Path | None, handle, exc: Exception) -> None:
        if path is None:                             # a restarted worker that could not come back
            self.pool.remove(handle)
            if not self.pool:
                while self.queue:
                    self.fail(self.queue.pop(0), "no worker left")
            return
        if not self.retry(path):
            self.fail(path, f"its worker died {self.attempts[str(path)]} times ({type(exc).__name__})")
        # Ray restarts the actor (its models load again): wait for it, then hand it the next video.
        self.running[handle.ready.options(max_task_retries=-1).remote()] = (None, handle)

    def done(self, path: Path, result: dict) -> None:
        outputs = {os.path.relpath(p, self.out_dir): os.path.getsize(p) for p in result["outputs"]}
        self.manifest.write(json.dumps(dict(_source_stat(path), settings=self.fingerprint, outputs=outputs)) + "\n")
        self.manifest.flush()
        self.summary.done.append(str(path))
        self.bar.write(f"{path.name}: {result['line']} -> {self.out_dir}")
        self.bar.update(1)

    def fail(self, path: Path, reason: str) -> None:
        self.summary.failed[str(path)] = reason
        self.bar.write(f"metahmr-video: failed {path}: {reason}")
        self.bar.update(1)


def run_distributed(inputs: list[Path], out_dir: Path, config: Config, address: str | None = None,
                    workers: int | None = None, formats: list[str] | None = None, rig: str | None = None,
                    retries: int = 2, show_progress: bool = True, worker_cls: type = VideoWorker) -> BatchSummary:
    """Process `inputs` on Ray into `out_dir` (see the module docstring).

    address: a Ray cluster address ("auto", "HOST:6379", "ray://HOST:10001"), None for a local Ray.
    workers: actors to start (default: as many as the cluster's CPUs allow at `config.threads` each;
    local default: this machine's CPU count / threads). retries: further attempts of a failed video.
    worker_cls: the actor class (tests substitute one that fails on purpose).
    """
    from tqdm import tqdm

    from metahmr_video.core.paths import writable_folder

    formats = list(formats or [])
    out_dir = Path(out_dir)
    writable_folder(out_dir)
    fingerprint = settings_fingerprint(config, formats, rig)
    records = _manifest(out_dir)
    summary = BatchSummary()
    todo = []
    for path in inputs:
        if is_complete(records.get(str(path.resolve())), path, fingerprint, out_dir):
            summary.skipped.append(str(path))
        else:
            todo.append(path)
    if not todo:
        return summary
    ray = import_ray()
    threads = max(1, int(config.threads))
    if address is None:
        cpus = (workers or max(1, (os.cpu_count() or 1) // threads)) * threads
        ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=False, log_to_driver=True)
    else:
        ray.init(address=address, configure_logging=False, log_to_driver=True)
    try:
        count = min(workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads), len(todo))
        actor = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=0)(worker_cls)
        pool = [actor.remote(config) for _ in range(count)]
        with tqdm(total=len(todo), unit="video", desc="videos", disable=not show_progress) as bar, \
                open(out_dir / MANIFEST, "a") as manifest:
            _Dispatcher(ray, pool, todo, out_dir, formats, rig, retries, fingerprint, summary, bar, manifest).run()
    finally:
        ray.shutdown()
    return summary
