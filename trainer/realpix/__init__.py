"""Real-pixel evaluation: the pose2sim wheel's calibrated four-view demo (fetched at evaluation
time), a multi-view triangulated reference, and every method scored monocularly on each view.
See docs/realpix.md."""
from metahmr_trainer.realpix.evaluate import RealPixSplit, evaluate_realpix, format_table, load_split

__all__ = ["RealPixSplit", "evaluate_realpix", "format_table", "load_split"]
