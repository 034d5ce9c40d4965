"""Per-person test-time adaptation of the meta-trained regressor: the public fitting API (`Fitter`),
its batched inner steps (`steps`), and the per-frame `Adapter` of the pipeline."""
from metahmr_video.adapt.adapter import AdaptConfig, Adapter, pose_bodies
from metahmr_video.adapt.fitter import FitResult, Fitter, make_evidence

__all__ = ["AdaptConfig", "Adapter", "FitResult", "Fitter", "pose_bodies", "make_evidence"]
