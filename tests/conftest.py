"""Shared fixtures: body models are built once per test session (Anny fills its cache on first use)."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def anny_body():
    from metahmr_video.body import AnnyBody
    return AnnyBody()
