"""The regressor f_w / auxiliary f_u, their inputs and losses, batched test-time optimisation, and
the checkpoint format. See docs/method.md."""
from metahmr_video.model.checkpoint import Checkpoint
from metahmr_video.model.features import BodyParams, Evidence, decode, features
from metahmr_video.model.losses import LossConfig, Target, test_loss, train_loss
from metahmr_video.model.regressor import CropEncoder, ModelConfig, Regressor
from metahmr_video.model.tto import inner_steps, predict_stacked, stack_params

__all__ = ["Checkpoint", "BodyParams", "Evidence", "decode", "features", "LossConfig", "Target",
           "test_loss", "train_loss", "CropEncoder", "ModelConfig", "Regressor", "inner_steps",
           "predict_stacked", "stack_params"]
