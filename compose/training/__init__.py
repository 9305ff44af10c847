"""Training: one trainer for every objective, inputs, checkpoints, strategies, evaluation."""

from compose.training.evaluate import evaluate
from compose.training.models import build_model, load_trained_model, trained_config
from compose.training.objectives import (
    FeatureMoments,
    Objective,
    PredictionEntropy,
    Regularizer,
    Supervised,
    gate_sparsity,
    mixture_entropy,
)
from compose.training.trainer import Trainer, build_optimizer, trained_variables

__all__ = [
    "FeatureMoments",
    "Objective",
    "PredictionEntropy",
    "Regularizer",
    "Supervised",
    "Trainer",
    "build_model",
    "build_optimizer",
    "evaluate",
    "gate_sparsity",
    "load_trained_model",
    "mixture_entropy",
    "trained_config",
    "trained_variables",
]
