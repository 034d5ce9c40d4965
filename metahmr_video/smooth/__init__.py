"""Temporal smoothing of per-track body sequences, and per-track landmark definitions (causal, for
streaming)."""
from metahmr_video.smooth.landmark_definitions import DefinitionsConfig, LandmarkDefinitions
from metahmr_video.smooth.one_euro import OneEuroFilter
from metahmr_video.smooth.rotation_filter import RotationFilter
from metahmr_video.smooth.track_smoother import SmootherConfig, TrackSmoother

__all__ = ["DefinitionsConfig", "LandmarkDefinitions", "OneEuroFilter", "RotationFilter", "SmootherConfig", "TrackSmoother"]
