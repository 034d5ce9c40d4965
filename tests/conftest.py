"""Shared fixtures: body models are built once per test session (Anny fills its cache on first use)."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)  # small batches; more threads only add contention on 2 cores


@pytest.fixture(scope="session")
def anny_body():
    from metahmr_video.body import AnnyBody
    return AnnyBody()
