"""metahmr-video: videos and webcam streams to per-person 3D body meshes (Meta-HMR test-time optimization)."""

__version__ = "0.1.0"
__all__ = ["Fitter"]


def __getattr__(name: str):
    """`metahmr_video.Fitter`, imported on first use (the command line starts without torch)."""
    if name == "Fitter":
        from metahmr_video.adapt import Fitter

        return Fitter
    raise AttributeError(f"module 'metahmr_video' has no attribute {name!r}")
