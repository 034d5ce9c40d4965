"""metahmr-video: videos and webcam streams to per-person 3D body meshes (Meta-HMR test-time optimization)."""

__version__ = "0.1.0"
