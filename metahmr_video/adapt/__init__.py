"""Per-person test-time adaptation of the meta-trained regressor: the public fitting API (`Fitter`),
its batched inner steps (`steps`), and the per-frame `Adapter` of the pipeline."""
from metahmr_video.adapt.adapter import AdaptConfig, Adapter, attach_vertices
from metahmr_video.adapt.fitter import FitResult, Fitter, make_evidence

__all__ = ["AdaptConfig", "Adapter", "FitResult", "Fitter", "attach_vertices", "make_evidence"]
