"""The regressor f_w / auxiliary f_u, their inputs and losses, and the checkpoint format (the
test-time optimisation that adapts them is `metahmr_video.adapt`). See docs/method.md."""
from metahmr_video.model.checkpoint import Checkpoint
from metahmr_video.model.features import BodyParams, Evidence, decode, features
from metahmr_video.model.losses import LossConfig, Target, test_loss, train_loss
from metahmr_video.model.regressor import ModelConfig, Regressor

__all__ = ["Checkpoint", "BodyParams", "Evidence", "decode", "features", "LossConfig", "Target",
           "test_loss", "train_loss", "ModelConfig", "Regressor"]
