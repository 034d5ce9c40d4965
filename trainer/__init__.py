"""Training: the motion prior and synthetic data (`prior`, `data`), real-data loaders (`loaders`),
the plain supervised trainer and the dual-network meta-trainer (`train`), CLI (`cli`)."""
