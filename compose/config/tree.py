"""The configuration tree: every option of every binary, in one place.

One root (:class:`ExperimentConfig`) holds the experiment (``tasks``,
``model``, ``train``, data and distribution) and a section per binary that
acts on a trained model (``transfer``, ``adapt``, ``search``, ``grow``).  The
library's options classes are these sections, so a caller of
:func:`compose.grow.transfer_task` and a user of ``compose.transfer`` set the
same fields.  Each section states its own checks (``checks()``); the choice
lists they read live with their implementations and are imported only when
checked, so importing this module loads neither Keras nor the engine.  How
values reach the tree: :mod:`compose.config.overrides`; the one validator:
:func:`compose.config.validate`.
"""

import dataclasses

from compose.config.checks import at_least, check_section, is_bool, one_of
from compose.config.overrides import override
from tasks import DEFAULT_SUITE


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

    def checks(self):
        from blocks import FAMILIES
        from compose.core.layers import HEADS, PRECISIONS
        from compose.core.normalization import PLACEMENTS

        return [
            ("block", one_of(self.block, tuple(sorted(FAMILIES)))),
            ("bank_size", at_least(self.bank_size, 1)),
            ("depth", at_least(self.depth, 1)),
            ("channels", at_least(self.channels, 1)),
            ("resolution", at_least(self.resolution, 1)),
            ("norm_placement", one_of(self.norm_placement, PLACEMENTS)),
            ("head", one_of(self.head, HEADS)),
            ("fuse_tasks", is_bool(self.fuse_tasks)),
            ("precision", one_of(self.precision, PRECISIONS)),
        ]


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
    task_sampling: str = "equal"
    """How a step's ``batch_size * tasks`` examples are shared among the tasks
    (:mod:`compose.training.sampling`): ``equal``, ``proportional`` to the
    training-set sizes, or ``temperature`` (``size ** (1 / sampling_temperature)``).
    On the main job's held-out examples (one seed, docs/results.md) ``equal``
    scored 0.9412, ``proportional`` 0.9348 and ``temperature`` 0.9377: the
    tasks there differ 40x in size, and equal shares lose nothing."""
    sampling_temperature: float = 2.0
    """``T`` of ``task_sampling=temperature`` (1: proportional; large: equal)."""
    min_task_batch: int = 8
    """Under ``proportional`` or ``temperature`` sampling, the examples every
    task gets per step before the sampler shares the rest: one example a step
    left UCI digits at 0.11 test accuracy beside Fashion-MNIST (its
    normalisation takes batch statistics; docs/results.md)."""
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

    def checks(self):
        from compose.recipes.joint import INITIAL_PROGRAMS, PROGRAM_LEARNING
        from compose.search.strategies import STRATEGIES
        from compose.training.sampling import SAMPLERS
        from compose.training.trainer import LR_SCHEDULES, OPTIMIZERS

        learning = self.program_learning
        return [
            ("steps", at_least(self.steps, 0)),
            ("batch_size", at_least(self.batch_size, 1)),
            ("learning_rate", (self.learning_rate > 0, f"must be > 0, got {self.learning_rate}")),
            ("lr_schedule", one_of(self.lr_schedule, LR_SCHEDULES)),
            ("optimizer", one_of(self.optimizer, tuple(OPTIMIZERS))),
            ("task_sampling", one_of(self.task_sampling, SAMPLERS)),
            ("sampling_temperature", (self.sampling_temperature > 0, "must be > 0")),
            (
                "min_task_batch",
                (
                    1 <= self.min_task_batch <= self.batch_size,
                    f"must be in [1, train.batch_size = {self.batch_size}], "
                    f"got {self.min_task_batch}",
                ),
            ),
            ("program_learning", one_of(learning, PROGRAM_LEARNING)),
            ("initial_programs", one_of(self.initial_programs, INITIAL_PROGRAMS)),
            (
                "programs",
                (
                    not (self.programs and self.programs_file),
                    "and train.programs_file are both set; give one",
                ),
            ),
            (
                "programs",
                (
                    self.programs is None or isinstance(self.programs, dict),
                    'must be {"task": [block indices], ...}',
                ),
            ),
            (
                "program_learning",
                (
                    learning not in ("sampled", "mixed")
                    or not (self.programs or self.programs_file)
                    or self.learning_fraction == 0
                    or self.initial_logit > 0,
                    f"is {learning!r} with train.initial_logit 0, which would learn new "
                    "programs from uniform logits and ignore the given ones; set "
                    "train.program_learning=none to train them as given, or "
                    "train.initial_logit > 0 to learn from near them",
                ),
            ),
            (
                "program_learning",
                (
                    learning not in ("uniform", "search") or self.program_search != "argmax",
                    f"is {learning!r}, which has no logits to take the argmax of, so "
                    "train.program_search must name a search to pick the programs (one of "
                    f"{', '.join(STRATEGIES)}), not argmax",
                ),
            ),
            (
                "learning_fraction",
                (0.0 <= self.learning_fraction <= 1.0, "must be in [0, 1]"),
            ),
            (
                "learning_fraction",
                (
                    learning not in ("search", "uniform")
                    or round(self.learning_fraction * self.steps) < self.steps
                    or self.steps == 0,
                    f"is {self.learning_fraction} of {self.steps} steps: program_learning "
                    f"{learning!r} needs steps after the learning phase to train "
                    "the programs it finds",
                ),
            ),
            ("mixture_init_stddev", at_least(self.mixture_init_stddev, 0)),
            ("final_temperature", (self.final_temperature > 0, "must be > 0")),
            ("mixture_entropy_weight", at_least(self.mixture_entropy_weight, 0)),
            ("program_search", one_of(self.program_search, ("argmax", *STRATEGIES))),
            ("search_budget", at_least(self.search_budget, 1)),
            ("search_rounds", at_least(self.search_rounds, 1)),
            ("standing_candidates", at_least(self.standing_candidates, 0)),
            ("search_validation_examples", at_least(self.search_validation_examples, 1)),
            ("validation_examples", at_least(self.validation_examples, 0)),
            ("diagnostic_examples", at_least(self.diagnostic_examples, 1)),
            ("steps_per_loop", at_least(self.steps_per_loop, 1)),
            ("checkpoint_every", at_least(self.checkpoint_every, 1)),
            ("eval_batch_size", at_least(self.eval_batch_size, 1)),
            ("jit_compile", (self.jit_compile in (None, True, False), "must be a bool or null")),
            ("deterministic", is_bool(self.deterministic)),
        ]


@dataclasses.dataclass(frozen=True)
class TransferOptions:
    """How a new task is learned over a frozen bank (:mod:`compose.grow.task_transfer`;
    the tree's ``transfer`` section).  ``compose.transfer`` sets ``mode`` from
    ``--modes``, once per mode."""

    mode: str = "program"
    steps: int = 600
    batch_size: int = 32
    learning_rate: float = 1e-2
    search_examples: int = 1000
    """Held out of the training split: the program modes score candidates on
    them (at most a fifth of the split)."""
    fit_examples: int = 2000
    """Training examples the closed-form probe is fitted on."""
    search_budget: int = 120
    """Distinct candidate programs scored (the starts included)."""
    random_starts: int = 8
    """Random programs scored beside every task's program before the search."""
    closed_form_head: bool = True
    """Start the head's classifier at the ridge solution on the first
    ``fit_examples`` training images' features (:func:`compose.search.fit_classifier`)
    instead of at random, in every mode."""
    strategy: str = "local"
    """The discrete search after the starts (:data:`compose.search.STRATEGIES`)."""
    race_fraction: float = 0.25
    """Program modes: the closed-form choice (with the source's stem) and
    every task's own program with its own stem each train this share of the
    steps; the one most accurate on the held-out examples trains on to
    ``steps``.  0: keep the closed-form choice.  The probe judges frozen
    features, but the stem trains afterwards, and a stem and the program it
    was trained with belong together.  On validation images (3 seeds,
    docs/transfer_and_adaptation.md) the race lifted CIFAR-10 from
    Fashion-MNIST from 0.2735 to 0.3075 (medians) and left MNIST's median as
    it was; a race over half the steps picked worse."""
    gate_fraction: float = 0.5
    """Gated mode: the share of steps that learns the gate scores."""
    gate_sparsity: float = 0.3
    """Gated mode: lambda of the L1 penalty on the gate scores.  With Adam the
    scores move by about the learning rate per step whatever lambda is, so
    lambda sets which gates' loss gradient outweighs the penalty: on
    MNIST from Fashion-MNIST 0.01 kept three gates open, 0.3 one, 0.5 none."""
    seed: int = 0

    def __post_init__(self):
        check_section(self, "transfer")

    def checks(self):
        from compose.grow.task_transfer import MODES
        from compose.search.strategies import STRATEGIES

        return [
            ("mode", one_of(self.mode, MODES)),
            ("steps", at_least(self.steps, 0)),
            ("batch_size", at_least(self.batch_size, 1)),
            ("learning_rate", (self.learning_rate > 0, f"must be > 0, got {self.learning_rate}")),
            ("search_examples", at_least(self.search_examples, 1)),
            ("fit_examples", at_least(self.fit_examples, 1)),
            ("search_budget", at_least(self.search_budget, 1)),
            ("random_starts", at_least(self.random_starts, 0)),
            ("closed_form_head", is_bool(self.closed_form_head)),
            ("strategy", one_of(self.strategy, tuple(STRATEGIES))),
            ("race_fraction", (0 <= self.race_fraction < 1, "must be in [0, 1)")),
            ("gate_fraction", (0 < self.gate_fraction < 1, "must be in (0, 1)")),
            ("gate_sparsity", at_least(self.gate_sparsity, 0)),
        ]


@dataclasses.dataclass(frozen=True)
class AdaptOptions:
    """How a target domain's program is chosen (and its stem adapted):
    :mod:`compose.grow.domain_adaptation`, the tree's ``adapt`` section.  ``compose.adapt``
    sets ``objective`` from ``--objectives``, once per objective."""

    objective: str = "moments"
    search_budget: int = 120
    """Distinct candidate programs scored (the starts included)."""
    random_starts: int = 8
    strategy: str = "local"
    scored_images: int = 1000
    """Target (and source) images every candidate is scored on."""
    stem_steps: int = 0
    """Steps that then train the target's stem on the objective (0: order only)."""
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 0

    def __post_init__(self):
        check_section(self, "adapt")

    def checks(self):
        from compose.grow.domain_adaptation import OBJECTIVES
        from compose.search.strategies import STRATEGIES

        return [
            ("objective", one_of(self.objective, OBJECTIVES)),
            ("search_budget", at_least(self.search_budget, 1)),
            ("random_starts", at_least(self.random_starts, 0)),
            ("strategy", one_of(self.strategy, tuple(STRATEGIES))),
            ("scored_images", at_least(self.scored_images, 2)),
            ("stem_steps", at_least(self.stem_steps, 0)),
            ("batch_size", at_least(self.batch_size, 2)),
            ("learning_rate", (self.learning_rate > 0, f"must be > 0, got {self.learning_rate}")),
        ]


@dataclasses.dataclass(frozen=True)
class RelaxedOptions:
    """Training of the relaxed strategy's mixture logits (:mod:`compose.search.relaxed`;
    the tree's ``search.relaxed``)."""

    steps: int = 300
    score_every: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-2
    source_logit: float = 2.0
    """Initial logit of the start program's block at each layer (0: uniform)."""
    final_temperature: float = 0.05

    def __post_init__(self):
        check_section(self, "search.relaxed")

    def checks(self):
        return [
            ("steps", at_least(self.steps, 1)),
            ("score_every", at_least(self.score_every, 1)),
            ("batch_size", at_least(self.batch_size, 1)),
            ("learning_rate", (self.learning_rate > 0, f"must be > 0, got {self.learning_rate}")),
            ("final_temperature", (self.final_temperature > 0, "must be > 0")),
        ]


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """How ``compose.search`` searches a trained model's programs over its
    frozen bank (:func:`compose.search.search_program`; the tree's ``search``)."""

    strategy: str = "local"
    """A discrete strategy or ``relaxed`` (:data:`compose.search.ALL_STRATEGIES`);
    local coordinate descent came closest to the exhaustive best within a
    small budget on the measured landscapes (docs/search.md)."""
    budget: int = 100
    """Distinct programs scored per task."""
    size_penalty: float = 1.0
    """``s`` in ``score = accuracy * s ** (charged / base)``; 1: accuracy alone."""
    min_length: int = 1
    """Shortest program (the model's depth: fixed length)."""
    seed: int = 0
    relaxed: RelaxedOptions = dataclasses.field(default_factory=RelaxedOptions)

    def __post_init__(self):
        check_section(self, "search")

    def checks(self):
        from compose.search import ALL_STRATEGIES

        return [
            ("strategy", one_of(self.strategy, ALL_STRATEGIES)),
            ("budget", at_least(self.budget, 1)),
            (
                "size_penalty",
                (0 < self.size_penalty <= 1, f"must be in (0, 1], got {self.size_penalty}"),
            ),
            ("min_length", at_least(self.min_length, 1)),
        ]


@dataclasses.dataclass(frozen=True)
class EvolveOptions:
    """How one new task is evolved over a frozen system (:mod:`compose.grow.evolve`;
    the tree's ``grow.evolve``)."""

    budget: int = 10
    """Candidates trained, the first generation (at most 5) included."""
    steps: int = 100
    """Training steps of the first generation; mutations halve or double it
    (between ``steps / 2`` and ``2 * steps``)."""
    batch_size: int = 32
    size_penalty: float = 1.0
    """``s`` of the score ``accuracy * s ** (charged / base)``; 1: accuracy alone."""
    max_clones: int | None = None
    """Clones one task may own (default: the model's depth)."""
    learning_rate: float = 2e-3
    """The first generation's learning rate (a value of :data:`LEARNING_RATES`)."""
    search_budget: int = 16
    """Programs the closed-form search of the first generation scores."""
    task_starts: int = 2
    """Other tasks' programs (the probe's best) in the first generation."""
    fit_examples: int = 2000
    """Training examples the closed-form probe and the first heads are fitted on."""
    gate_sparsity: float = 0.0
    """Gated candidates: lambda of the L1 penalty on the gate scores (see
    :class:`compose.grow.task_transfer.TransferOptions`).  0: the size-penalised
    score already charges every open delta, and a delta starts at zero, so its
    score feels only the penalty until the delta grows: at 0.3 every gated
    candidate of MNIST-partial (stream seed 0, s = 0.9) closed every gate and
    scored like head-only (0.697 against 0.710); at 0, 0.856 (docs/growing.md)."""
    gate_rank: int | None = 4
    """The first gated candidate's delta rank (a value of ``GATE_RANKS``; None:
    full deltas, TAPS); mutations move it."""
    seed: int = 0

    def __post_init__(self):
        check_section(self, "grow.evolve")

    def checks(self):
        from compose.grow.evolve import GATE_RANKS, LEARNING_RATES

        return [
            ("budget", at_least(self.budget, 1)),
            ("steps", at_least(self.steps, 2)),
            ("batch_size", at_least(self.batch_size, 1)),
            (
                "size_penalty",
                (0 < self.size_penalty <= 1, f"must be in (0, 1], got {self.size_penalty}"),
            ),
            (
                "max_clones",
                (
                    self.max_clones is None or self.max_clones >= 0,
                    f"must be >= 0, got {self.max_clones}",
                ),
            ),
            ("learning_rate", one_of(self.learning_rate, LEARNING_RATES)),
            ("search_budget", at_least(self.search_budget, 1)),
            ("task_starts", at_least(self.task_starts, 0)),
            ("fit_examples", at_least(self.fit_examples, 1)),
            ("gate_sparsity", at_least(self.gate_sparsity, 0)),
            ("gate_rank", one_of(self.gate_rank, GATE_RANKS)),
        ]

    def step_choices(self) -> tuple[int, ...]:
        """The steps a candidate may train: half, once and twice ``steps``."""
        return (self.steps // 2, self.steps, 2 * self.steps)


@dataclasses.dataclass(frozen=True)
class GrowOptions:
    """How every task of a stream is evolved (:mod:`compose.grow.system`; the
    tree's ``grow``)."""

    evolve: EvolveOptions = dataclasses.field(default_factory=EvolveOptions)
    validation_examples: int = 1000
    """Held out of each task's training split to score candidates (at most a fifth)."""

    def __post_init__(self):
        check_section(self, "grow")

    def checks(self):
        return [("validation_examples", at_least(self.validation_examples, 1))]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ExperimentConfig:
    """The root: the experiment ``compose.train`` runs, and the sections of
    the binaries that act on its model dir (each reads the experiment's part
    from the model dir's ``config.json`` and its own section from its command
    line)."""

    tasks: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SUITE))
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data_dir: str | None = None
    tfds_dir: str | None = None
    strategy: str = "off"
    tpu: str | None = None
    transfer: TransferOptions = dataclasses.field(default_factory=TransferOptions)
    adapt: AdaptOptions = dataclasses.field(default_factory=AdaptOptions)
    search: SearchOptions = dataclasses.field(default_factory=SearchOptions)
    grow: GrowOptions = dataclasses.field(default_factory=GrowOptions)

    def checks(self):
        from compose.training.distribute import STRATEGIES

        return [
            ("tasks", (bool(self.tasks), "must name at least one task")),
            ("tasks", (len(set(self.tasks)) == len(self.tasks), f"repeat a name: {self.tasks}")),
            ("strategy", one_of(str(self.strategy).lower(), STRATEGIES)),
            (
                "model.fuse_tasks",
                (
                    not self.model.fuse_tasks or self.train.task_sampling == "equal",
                    f"needs equal batches of every task, but train.task_sampling is "
                    f"{self.train.task_sampling!r}",
                ),
            ),
        ]

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        return override(cls(), values)
