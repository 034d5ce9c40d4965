"""Ctrl-C and SIGTERM that are never lost.

The handler records the request and raises KeyboardInterrupt (SIGTERM ends a run like Ctrl-C:
sinks flush what was computed). Where a library swallows that exception (a bare `except:` around
an import, for one), the record stays: the pipeline checks `requested()` between frames and the
command line before it reports success.

    interrupts.install()          # in the main thread, once
    if interrupts.requested(): raise KeyboardInterrupt
"""
from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _handler(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT and SIGTERM in this process (main thread only) and forget earlier requests."""
    _requested.clear()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


def requested() -> bool:
    """Whether SIGINT or SIGTERM arrived since `install()`."""
    return _requested.is_set()
