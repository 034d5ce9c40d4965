"""Keeping native libraries' start-up chatter off our output: LiteRT's delegate notice, Warp's
banner and its "Could not find or load the NVIDIA CUDA driver" warning on machines without a GPU."""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence what native code writes to file descriptor 2 inside the block; Python-level errors
    still propagate as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def init_warp_quietly() -> None:
    """Initialise Warp (Anny's skinning kernels) now, without its banner, and without the CUDA
    driver warning its native start-up prints to stderr on CPU-only machines (Warp then runs on
    the CPU, which is all we ask of it). Failures still raise."""
    import warp

    warp.config.log_level = warp.LOG_WARNING
    with native_stderr_silenced():
        warp.init()
