"""Experiment configuration: defaults, then a config file, then overrides.

The order follows the TF Model Garden: dataclass defaults < ``--config_file``
(JSON) < ``--params_override`` (``a.b=v,c=w``) < explicit flags.  The final
config is validated and written into the model dir.
"""

import dataclasses
import json

from compose.errors import InvalidInputError, UnknownNameError
from tasks import DEFAULT_SUITE

PROGRAM_LEARNING = ("search", "sampled", "uniform", "mixed", "none")
INITIAL_PROGRAMS = ("cycle", "random")
NORM_PLACEMENTS = ("task_layer", "block")
HEADS = ("linear", "grid", "paper")
PRECISIONS = ("float32", "bfloat16")
LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
SEARCH_STRATEGIES = ("evolutionary", "local", "random")
"""The discrete strategies of :mod:`compose.search.strategies` (kept equal by a test)."""


@dataclasses.dataclass
class ModelConfig:
    block: str = "inverted_bottleneck"
    bank_size: int = 4
    depth: int = 8
    channels: int = 32
    resolution: int = 8
    norm_placement: str = "block"
    """Who owns the bank layers' normalisation scale and offset: ``block``
    (each bank block, so they travel with it) or ``task_layer`` (each task,
    per layer).  Measured (docs/results.md): equal on the main job's
    validation splits; with ``block`` a task owns a tenth of the parameters
    (746 against 7,402 at the main job's shape) and the program matters more
    in transfer (MNIST from Fashion-MNIST: program 0.804 vs head 0.761, where
    ``task_layer`` gave 0.81 vs 0.80)."""
    head: str = "linear"
    """``linear`` (pool, dense), ``grid`` (global and 2x2-cell pooling, dense)
    or ``paper`` (the authors' 128/256 head).  On the main job's validation
    splits (one seed, docs/results.md) ``grid`` was 0.25 points above
    ``linear``, less than the spread across seeds: not enough to switch."""
    fuse_tasks: bool = False
    """Run the tasks' bank layers as one grouped op per kind.  Off: on a
    2-core Zen-2 the fused step was 0.98x the per-task step at this shape and
    0.70x at the paper's, on a Zen-4 0.95x and 0.77x (docs/performance.md);
    the per-task step is already close to one task at the combined batch."""
    precision: str = "float32"
    """``float32`` or ``bfloat16`` compute (variables and statistics stay float32).
    On a 2-core Zen-4 with bf16 instructions ``bfloat16`` made the step
    1.26-1.36x faster at equal accuracy (main job, 3 seeds: 0.9252 vs 0.9221);
    on CPUs without them it is emulated and 3-4x slower (docs/results.md).
    ``float32`` stays the default so one command gives one result everywhere."""


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1500
    batch_size: int = 32
    """Global batch of every task at every step."""
    learning_rate: float = 2e-3
    lr_schedule: str = "cosine"
    """``cosine`` (decays to 0 over ``steps``) or ``constant``.  On the main
    job's validation splits cosine took the mean from 0.906-0.915 to
    0.922-0.926 (3 seeds; docs/results.md).  Short runs that stop far from
    convergence learn less with it (200 steps of UCI digits + USPS at depth 4:
    USPS 0.53 against 0.80 with ``constant``)."""
    optimizer: str = "adam"
    program_learning: str = "search"
    """How programs are learned during the first ``learning_fraction`` of the
    steps: ``search`` (hard programs throughout; ``search_rounds`` times,
    evenly spread and the last at the end of the phase, each task's program
    is searched from where it stands by ``program_search`` over the bank as
    it is then, and a change is kept only if it scores higher on examples
    held out for the search: Alet et al. 2018's alternation), ``sampled``
    (every forward pass runs a hard program drawn from each
    layer's softmax, straight-through gradients; discretising changes
    nothing), ``uniform`` (single-path one-shot training, Guo et al. 2020:
    every step runs a program drawn uniformly, the logits never move, so every
    block learns to work at every depth; needs a ``program_search`` to pick
    the programs after), ``mixed`` (the paper's weight mixing; with
    ``learning_fraction`` 1 the model is served as mixtures) or ``none``
    (programs stay as given).  ``search`` is the default because it is the
    only way of learning programs that does not lose to fixed ones: on the
    main suite's validation splits (``benchmarks.programs``, medians of 3
    seeds, docs/results.md) it scored 0.9412 against 0.9313 for ``sampled``
    and 0.9293 for ``uniform``; fixed ``cycle`` and random programs scored
    0.9418 and 0.9395, so at this scale it learns nothing they lack, for
    about 20% more wall time (``none`` to skip it)."""
    initial_programs: str = "cycle"
    """Programs before learning: ``cycle`` (0, 1, .., K-1, 0, ..) or
    ``random``; ``programs_file`` overrides them."""
    programs: dict[str, list[int]] | None = None
    """Explicit programs ``{"task": [indices]}`` to start from (override
    ``initial_programs``)."""
    programs_file: str | None = None
    """A JSON file ``{"task": [indices]}`` or a ``programs.json`` of a run,
    read instead of ``programs``."""
    learning_fraction: float = 0.2
    """The share of steps that learns programs before they are fixed.  For
    ``search`` the rounds are spread over it (the last at its end) and its
    search examples train only after it.  For ``sampled``, training on drawn
    programs costs accuracy the hard phase must win back: on the main job's
    validation splits 0.1 gave 0.933-0.936, 0.3 gave 0.922-0.926
    (docs/results.md)."""
    initial_logit: float = 0.0
    """When learning starts, each layer's logit of its initial program's block
    (the others 0): 0 starts from uniform logits, 2 gives the initial block
    weight 0.71 of 4, so learning starts near the initial programs."""
    mixture_init_stddev: float = 0.0
    """Standard deviation of noise added to the initial mixture logits."""
    final_temperature: float = 1.0
    """Mixture temperature at the end of the learning phase, annealed
    geometrically from 1.0; below 1 concentrates each layer on one block."""
    program_search: str = "local"
    """The search of ``program_learning=search`` and ``uniform``, and how
    ``sampled`` or ``mixed`` programs become hard: ``argmax`` of each layer's
    logits (no search), or a search strategy (``local``, ``evolutionary``,
    ``random``) started from the task's program (for learned logits, their
    argmax) over the bank as it is then, scoring candidates on
    ``search_validation_examples`` held out of each task's training split."""
    search_budget: int = 25
    """Candidate programs per task of one search (of one round, for ``search``)."""
    search_rounds: int = 2
    """Searches per task over the learning phase of ``program_learning=search``."""
    standing_candidates: int = 0
    """When above 0, each learned program is scored at the moment it is fixed
    against this many random programs and all its single-position changes
    over the bank as it is then (:func:`compose.search.standing.program_standing`,
    on the held-out examples); recorded in ``discretisation.json`` and drawn
    in ``programs.png``.  Costs one forward pass over the held-out examples
    per candidate, so 0 by default."""
    search_validation_examples: int = 1000
    """Examples held out of each task's training split (after the
    ``validation_examples``, at most a fifth of what is left) to score the
    program searches of the learning phase; they return to training once the
    programs are fixed, so only the learning phase trains on fewer."""
    validation_examples: int = 0
    """Examples held out of the end of each task's training split (at most a
    fifth) and scored after training as ``validation_accuracy``: settings are
    chosen on these, never on the test sets.  0: train on the whole split."""
    mixture_entropy_weight: float = 0.0
    """Weight of the learned programs' mean entropy in the loss; above 0
    pushes every layer toward one block."""
    diagnostic_examples: int = 2000
    """Test examples per task of the accuracies around discretisation (a fixed
    subset: a diagnostic costs seconds, not minutes)."""
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
            raise UnknownNameError(f"unknown config key {prefix + key!r}; known here: {known}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise InvalidInputError(f"config key {prefix + key!r} is a section; give a dict")
            override(current, value, prefix=f"{prefix}{key}.")
        else:
            setattr(config, key, value)


def parse_params_override(text: str) -> dict:
    """``"model.depth=4,train.steps=10"`` -> nested dict; values read as JSON when they parse."""
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise InvalidInputError(f"params_override item {item!r} is not key=value")
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
    from blocks import FAMILIES  # the lists live with their implementations
    from compose.training.distribute import STRATEGIES

    model, train = config.model, config.train

    def one_of(value, choices):
        return value in choices, f"must be one of {', '.join(choices)}, got {value!r}"

    checks = [
        ("tasks", (bool(config.tasks), "must name at least one task")),
        ("tasks", (len(set(config.tasks)) == len(config.tasks), f"repeat a name: {config.tasks}")),
        ("strategy", one_of(str(config.strategy).lower(), STRATEGIES)),
        ("model.block", one_of(model.block, tuple(sorted(FAMILIES)))),
        ("model.bank_size", (model.bank_size >= 1, "must be >= 1")),
        ("model.depth", (model.depth >= 1, "must be >= 1")),
        ("model.channels", (model.channels >= 1, "must be >= 1")),
        ("model.resolution", (model.resolution >= 1, "must be >= 1")),
        ("model.norm_placement", one_of(model.norm_placement, NORM_PLACEMENTS)),
        ("model.head", one_of(model.head, HEADS)),
        ("model.fuse_tasks", (model.fuse_tasks in (True, False), "must be a bool")),
        ("model.precision", one_of(model.precision, PRECISIONS)),
        ("train.steps", (train.steps >= 0, "must be >= 0")),
        ("train.batch_size", (train.batch_size >= 1, "must be >= 1")),
        ("train.learning_rate", (train.learning_rate > 0, "must be > 0")),
        ("train.lr_schedule", one_of(train.lr_schedule, LR_SCHEDULES)),
        ("train.optimizer", one_of(train.optimizer, OPTIMIZERS)),
        ("train.program_learning", one_of(train.program_learning, PROGRAM_LEARNING)),
        ("train.initial_programs", one_of(train.initial_programs, INITIAL_PROGRAMS)),
        (
            "train.programs",
            (
                not (train.programs and train.programs_file),
                "and train.programs_file are both set; give one",
            ),
        ),
        (
            "train.programs",
            (
                train.programs is None or isinstance(train.programs, dict),
                'must be {"task": [block indices], ...}',
            ),
        ),
        (
            "train.program_learning",
            (
                train.program_learning not in ("sampled", "mixed")
                or not (train.programs or train.programs_file)
                or train.learning_fraction == 0
                or train.initial_logit > 0,
                f"is {train.program_learning!r} with train.initial_logit 0, which would learn new "
                "programs from uniform logits and ignore the given ones; set "
                "train.program_learning=none to train them as given, or train.initial_logit > 0 "
                "to learn from near them",
            ),
        ),
        (
            "train.program_learning",
            (
                train.program_learning not in ("uniform", "search")
                or train.program_search != "argmax",
                f"is {train.program_learning!r}, which has no logits to take the argmax of, so "
                "train.program_search must name a search to pick the programs (one of "
                f"{', '.join(SEARCH_STRATEGIES)}), not argmax",
            ),
        ),
        ("train.learning_fraction", (0.0 <= train.learning_fraction <= 1.0, "must be in [0, 1]")),
        (
            "train.learning_fraction",
            (
                train.program_learning not in ("search", "uniform")
                or round(train.learning_fraction * train.steps) < train.steps
                or train.steps == 0,
                f"is {train.learning_fraction} of {train.steps} steps: program_learning "
                f"{train.program_learning!r} needs steps after the learning phase to train "
                "the programs it finds",
            ),
        ),
        ("train.mixture_init_stddev", (train.mixture_init_stddev >= 0, "must be >= 0")),
        ("train.final_temperature", (train.final_temperature > 0, "must be > 0")),
        ("train.mixture_entropy_weight", (train.mixture_entropy_weight >= 0, "must be >= 0")),
        ("train.program_search", one_of(train.program_search, ("argmax", *SEARCH_STRATEGIES))),
        ("train.search_budget", (train.search_budget >= 1, "must be >= 1")),
        ("train.search_rounds", (train.search_rounds >= 1, "must be >= 1")),
        ("train.standing_candidates", (train.standing_candidates >= 0, "must be >= 0")),
        ("train.search_validation_examples", (train.search_validation_examples >= 1, ">= 1")),
        ("train.validation_examples", (train.validation_examples >= 0, ">= 0")),
        ("train.diagnostic_examples", (train.diagnostic_examples >= 1, "must be >= 1")),
        ("train.steps_per_loop", (train.steps_per_loop >= 1, "must be >= 1")),
        ("train.checkpoint_every", (train.checkpoint_every >= 1, "must be >= 1")),
        ("train.eval_batch_size", (train.eval_batch_size >= 1, "must be >= 1")),
        ("train.jit_compile", (train.jit_compile in (None, True, False), "must be a bool")),
        ("train.deterministic", (train.deterministic in (True, False), "must be a bool")),
    ]
    for field, (ok, message) in checks:
        if not ok:
            raise InvalidInputError(f"invalid config: {field} {message}")
