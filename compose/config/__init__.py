"""One configuration tree for every binary: its sections, how values reach it
and the one validator.  Importing it loads neither Keras nor the engine.

Override order (TF Model Garden's): defaults < ``--config_file`` (JSON) <
``--params_override`` (``a.b=v,c=w``) < a binary's own flags.  The final
config is validated and written into the binary's output dir.
"""

from compose.config.overrides import override, parse_params_override
from compose.config.tree import (
    AdaptOptions,
    EvolveOptions,
    ExperimentConfig,
    GrowOptions,
    ModelConfig,
    RelaxedOptions,
    SearchOptions,
    TrainConfig,
    TransferOptions,
)
from compose.config.validation import validate

__all__ = [
    "AdaptOptions",
    "EvolveOptions",
    "ExperimentConfig",
    "GrowOptions",
    "ModelConfig",
    "RelaxedOptions",
    "SearchOptions",
    "TrainConfig",
    "TransferOptions",
    "override",
    "parse_params_override",
    "validate",
]
