"""Per-person test-time adaptation of the meta-trained regressor: the public fitting API (`Fitter`),
its batched inner steps (`steps`), the per-frame `Adapter` of the pipeline, and the `BodyPoser` stage
that poses the smoothed bodies for the sinks."""
from metahmr_video.adapt.adapter import AdaptConfig, Adapter
from metahmr_video.adapt.fitter import FitResult, Fitter, make_evidence
from metahmr_video.adapt.posing import BodyPoser

__all__ = ["AdaptConfig", "Adapter", "FitResult", "Fitter", "BodyPoser", "make_evidence"]
