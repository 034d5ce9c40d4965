"""User-facing errors: each one is printed by the CLI as a single line (no traceback without --debug)."""


class MetaHMRError(Exception):
    """A problem with the user's input or environment, described in one line."""


class InputError(MetaHMRError):
    """A missing, empty, unreadable or corrupt input (video, image, folder, keypoint file, camera)."""


class ModelFileError(MetaHMRError):
    """A missing, corrupt or mismatched model file (SMPL/SMPL-X model, checkpoint)."""
