"""Experiment configuration: defaults, then a config file, then overrides.

The order follows the TF Model Garden: dataclass defaults < ``--config_file``
(JSON) < ``--params_override`` (``a.b=v,c=w``) < explicit flags.  The final
config is validated and written into the model dir.
"""

import dataclasses
import json

from compose.search.strategies import STRATEGIES
from tasks import DEFAULT_SUITE

PROGRAM_MODES = ("relaxed", "shared", "random")


@dataclasses.dataclass
class ModelConfig:
    block: str = "inverted_bottleneck"
    bank_size: int = 4
    depth: int = 8
    channels: int = 32
    resolution: int = 8


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1500
    batch_size: int = 32
    """Global batch of every task at every step."""
    learning_rate: float = 2e-3
    optimizer: str = "adam"
    programs: str = "relaxed"
    """``relaxed`` (mixtures, then argmax), ``shared`` (every task 0,1,..),
    ``random``, or a JSON object / path of one: ``{"task": [indices]}``."""
    relaxed_fraction: float = 0.3
    """With ``programs=relaxed``: the share of steps trained with mixtures."""
    mixture_init_stddev: float = 0.0
    """Standard deviation of the initial mixture logits (0: uniform mixtures).
    Near-uniform weight mixing gives every block nearly the same gradient;
    random logits break that symmetry (docs/results.md)."""
    relaxed_final_temperature: float = 1.0
    """Softmax temperature of the mixtures at the end of the relaxed phase,
    annealed geometrically from 1.0; below 1 sharpens them toward the argmax
    that discretisation keeps."""
    program_search: str = "argmax"
    """How relaxed programs become hard: ``argmax`` of each layer's mixture,
    or a search strategy (``local``, ``evolutionary``, ``random``) started
    from the argmax over the bank as it is then, scoring candidates on
    ``search_validation_examples`` held out of each task's training split."""
    search_budget: int = 50
    search_validation_examples: int = 1000
    """At most a fifth of a task's training examples."""
    mixture_entropy_weight: float = 0.0
    """Weight of the mixtures' mean entropy in the loss while relaxed; above 0
    pushes every layer toward one block."""
    steps_per_loop: int = 10
    checkpoint_every: int = 250
    seed: int = 0
    eval_batch_size: int = 500
    deterministic: bool = True
    """Deterministic TF ops, so a run killed and resumed ends exactly where an
    uninterrupted one does (costs some speed on GPU)."""
    jit_compile: bool | None = None
    """Compile the training step with XLA; None: only for single-replica GPU
    training (XLA is much slower on CPU; TPU compiles anyway)."""


@dataclasses.dataclass
class ExperimentConfig:
    tasks: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SUITE))
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data_dir: str | None = None
    tfds_dir: str | None = None
    strategy: str = "off"
    tpu: str | None = None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        config = cls()
        override(config, values)
        return config


def override(config, values: dict, prefix=""):
    """Sets fields of ``config`` (nested dataclasses) from a nested dict.

    Raises:
      KeyError: naming the full dotted key when a field does not exist.
    """
    for key, value in values.items():
        if not hasattr(config, key) or key.startswith("_"):
            known = ", ".join(f.name for f in dataclasses.fields(config))
            raise KeyError(f"unknown config key {prefix + key!r}; known here: {known}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"config key {prefix + key!r} is a section; give a dict")
            override(current, value, prefix=f"{prefix}{key}.")
        else:
            setattr(config, key, value)


def parse_params_override(text: str) -> dict:
    """``"model.depth=4,train.steps=10"`` -> nested dict; values read as JSON when they parse."""
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"params_override item {item!r} is not key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.strip().split(".")
        node = values
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return values


def validate(config: ExperimentConfig) -> None:
    """Raises ValueError naming the first field that cannot work."""
    checks = [
        (config.tasks, "tasks must name at least one task"),
        (len(set(config.tasks)) == len(config.tasks), f"tasks repeat a name: {config.tasks}"),
        (config.model.bank_size >= 1, "model.bank_size must be >= 1"),
        (config.model.depth >= 1, "model.depth must be >= 1"),
        (config.model.channels >= 1, "model.channels must be >= 1"),
        (config.model.resolution >= 1, "model.resolution must be >= 1"),
        (config.train.steps >= 0, "train.steps must be >= 0"),
        (config.train.batch_size >= 1, "train.batch_size must be >= 1"),
        (config.train.learning_rate > 0, "train.learning_rate must be > 0"),
        (0.0 <= config.train.relaxed_fraction <= 1.0, "train.relaxed_fraction must be in [0, 1]"),
        (config.train.mixture_init_stddev >= 0, "train.mixture_init_stddev must be >= 0"),
        (config.train.relaxed_final_temperature > 0, "train.relaxed_final_temperature must be > 0"),
        (config.train.mixture_entropy_weight >= 0, "train.mixture_entropy_weight must be >= 0"),
        (
            config.train.program_search in ("argmax", *STRATEGIES),
            f"train.program_search must be argmax or one of {', '.join(STRATEGIES)}",
        ),
        (config.train.search_budget >= 1, "train.search_budget must be >= 1"),
        (
            config.train.search_validation_examples >= 1,
            "train.search_validation_examples must be >= 1",
        ),
        (config.train.steps_per_loop >= 1, "train.steps_per_loop must be >= 1"),
        (config.train.checkpoint_every >= 1, "train.checkpoint_every must be >= 1"),
        (config.train.eval_batch_size >= 1, "train.eval_batch_size must be >= 1"),
        (config.train.jit_compile in (None, True, False), "train.jit_compile must be a bool"),
        (config.train.deterministic in (True, False), "train.deterministic must be a bool"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"invalid config: {message}")
