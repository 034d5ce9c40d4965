"""Temporal smoothing of per-track body sequences (causal, for streaming)."""
from metahmr_video.smooth.one_euro import OneEuroFilter
from metahmr_video.smooth.rotation_filter import RotationFilter
from metahmr_video.smooth.track_smoother import SmootherConfig, TrackSmoother

__all__ = ["OneEuroFilter", "RotationFilter", "SmootherConfig", "TrackSmoother"]
