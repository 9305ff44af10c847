"""Everything one task owns: its stem, program, normalisation, head (and gates)."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from compose.core.gates import BlockGates
from compose.core.layers import Head, Stem
from compose.core.normalization import TaskNormalization
from compose.core.program import IDENTITY, pad_program, unpad_program, validate_program
from compose.core.spec import TaskSpec
from compose.seeds import derive_seed

SELECTIONS = ("hard", "sampled", "mixed")
"""How a task's layers choose their block.

``hard``
  the program: one block per layer.
``sampled``
  learning a program with hard forward passes: in training each layer runs
  one block drawn from the softmax of its logits (Gumbel-max), and the
  gradient reaches the logits through the softmax (straight-through
  Gumbel-softmax); in inference each layer runs its most likely block.
  Discretising (keeping those blocks) changes nothing.
``mixed``
  the Compositional Models paper: each layer runs the softmax mixture of the
  blocks' *weights*, in training and in inference.
"""


@keras.saving.register_keras_serializable(package="compose")
class TaskPath(keras.layers.Layer):
    """One task's own parameters and program state.

    The program is a ``[depth]`` int32 variable (IDENTITY-padded), so changing
    it never retraces; its non-padded layers are the ones that run, whatever
    the selection.  ``mixture_logits`` ``[depth, K]`` hold a learned program;
    ``selection`` (an index into :data:`SELECTIONS`) and ``temperature``
    are variables too.  A call returns the ``[depth, K]`` mixture the bank's
    layers run (float32 whatever the compute dtype).

    Its shape and options have no defaults of its own: :class:`compose.ComposedModel`
    passes its own.

    Args:
      spec: the task's :class:`TaskSpec` (or its dict form).
      bank_size, depth, channels, resolution: the model's shape.
      norm_sites: the block family's normalisation sites ``{site: channels}``.
      norm_placement: ``task_layer`` (the task owns a scale and offset per
        bank layer) or ``block`` (the bank's blocks own them).
      head: the head kind (:data:`compose.core.layers.HEADS`).
      program: initial block indices (default: ``0, 1, ..`` cycling the bank).
      gate_shapes: parameter shapes of one bank block; given, the task owns
        gated weight deltas of every block (:class:`BlockGates`).
      seed: the run's seed; the stem's, head's and program samples' seeds
        derive from it and the task's name.
      dtype: the dtype policy the stem and the head compute in
        (:func:`compose.core.layers.compute_policy`).
    """

    def __init__(
        self,
        spec,
        bank_size,
        depth,
        channels,
        resolution,
        norm_sites,
        norm_placement,
        head,
        program=None,
        gate_shapes=None,
        gate_rank=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.spec = spec if isinstance(spec, TaskSpec) else TaskSpec(**spec)
        self.bank_size = bank_size
        self.depth = depth
        self.channels = channels
        self.resolution = resolution
        self.norm_sites = dict(norm_sites)
        self.norm_placement = norm_placement
        self.head_kind = head
        self.seed = seed
        if program is None:
            program = [layer % bank_size for layer in range(depth)]
        self.initial_program = validate_program(self.spec.name, program, bank_size, depth)
        name = self.spec.name
        self.sample_seed = derive_seed(seed, "program_sample", name)
        self.stem = Stem(
            channels,
            resolution,
            derive_seed(seed, "stem", name),
            dtype=self.dtype_policy,
            name="stem",
        )
        sites = {"stem": (1, channels)}
        sites.update({site: (depth, width) for site, width in self.norm_sites.items()})
        sites["head"] = (1, channels)
        scaled = ["stem", "head"]
        if norm_placement == "task_layer":
            scaled += list(self.norm_sites)
        self.norm = TaskNormalization(sites, scaled, name="norm")
        self.head = Head(
            self.spec.num_classes,
            head,
            derive_seed(seed, "head", name),
            dtype=self.dtype_policy,
            name="head",
        )
        self.gates = None
        if gate_shapes is not None:
            self.gates = BlockGates(
                gate_shapes,
                bank_size,
                rank=gate_rank,
                seed=derive_seed(seed, "gates", name),
                name="gates",
            )

    def build(self, input_shape=None):
        self.stem.build((None, *self.spec.image_shape))
        self.norm.build()
        self.head.build((None, self.resolution, self.resolution, self.channels))
        if self.gates is not None:
            self.gates.build()
        self.program = self.add_weight(
            name="program",
            shape=(self.depth,),
            dtype="int32",
            initializer=keras.initializers.Constant(IDENTITY),
            trainable=False,
        )
        self.program.assign(pad_program(self.initial_program, self.depth))
        self.mixture_logits = self.add_weight(
            name="mixture_logits",
            shape=(self.depth, self.bank_size),
            initializer="zeros",
            autocast=False,
        )
        self.selection = self.add_weight(
            name="selection", shape=(), dtype="int32", initializer="zeros", trainable=False
        )
        self.temperature = self.add_weight(
            name="temperature", shape=(), initializer="ones", trainable=False, autocast=False
        )
        self.built = True

    # -- the program -----------------------------------------------------------

    def active(self):
        """``[depth]`` 1.0 for layers the program runs, 0.0 for IDENTITY padding."""
        return tf.cast(tf.not_equal(self.program, IDENTITY), tf.float32)

    def call(self, sample_step=None, training=False):
        """``[depth, K]`` weight of each block at each layer (rows of padded layers are 0).

        ``sample_step`` (an int scalar) seeds the ``sampled`` selection's
        draw in training; without it training runs the most likely blocks.
        """
        hard = tf.one_hot(self.program, self.bank_size)
        scaled = self.mixture_logits / self.temperature
        noisy = scaled
        if training and sample_step is not None:
            noisy += self._gumbel_noise(sample_step)
        relaxed = tf.nn.softmax(noisy, axis=-1)
        picked = tf.one_hot(tf.argmax(noisy, axis=-1), self.bank_size)
        # Exactly ``picked`` forward (r - r is 0 in floating point); the
        # softmax's gradient backward.
        sampled = picked + (relaxed - tf.stop_gradient(relaxed))
        active = self.active()[:, None]
        soft = tf.nn.softmax(scaled, axis=-1) * active
        return tf.where(
            self.selection == 0, hard, tf.where(self.selection == 1, sampled * active, soft)
        )

    def _gumbel_noise(self, step):
        seed = tf.random.experimental.stateless_fold_in(
            tf.constant([self.sample_seed, 0], tf.int64), tf.cast(step, tf.int64)
        )
        uniform = tf.random.stateless_uniform(
            [self.depth, self.bank_size], seed=seed, minval=1e-20, maxval=1.0
        )
        return -tf.math.log(-tf.math.log(uniform))

    def mixture_entropy(self):
        """Mean entropy of the active layers' softmax; 0 for a hard program."""
        log_soft = tf.nn.log_softmax(self.mixture_logits / self.temperature, axis=-1)
        entropy = -tf.reduce_sum(tf.exp(log_soft) * log_soft, axis=-1)
        active = self.active()
        learned = tf.cast(self.selection > 0, tf.float32)
        return learned * tf.reduce_sum(entropy * active) / tf.maximum(tf.reduce_sum(active), 1.0)

    def selection_name(self) -> str:
        return SELECTIONS[int(self.selection.numpy())]

    def current_program(self) -> list[int]:
        """The hard program, or the most likely block of each layer while learned."""
        program = unpad_program(np.asarray(self.program))
        if self.selection_name() == "hard":
            return program
        logits = np.asarray(self.mixture_logits)[: len(program)]
        return [int(i) for i in np.argmax(logits, axis=-1)]

    def current_mixture(self) -> np.ndarray:
        """``[depth, K]`` in inference (the softmax for ``mixed``, one-hot otherwise)."""
        return np.asarray(self(None))

    # -- parameters ------------------------------------------------------------

    def kernel_deltas(self, mix):
        """The task's gated deltas of the bank's kernels at a layer it runs
        with mixture ``mix`` ``[K]``, or None without gates."""
        return None if self.gates is None else self.gates(mix)

    def own_parameter_count(self) -> int:
        """Trainable values only this task uses: stem, normalisation, head, the
        mixture logits while they select the blocks, and the gates the program
        reads (:meth:`BlockGates.parameter_count`)."""
        variables = self.stem.trainable_variables + self.norm.trainable_variables
        variables += self.head.trainable_variables
        if self.selection_name() != "hard":
            variables.append(self.mixture_logits)
        count = sum(int(np.prod(v.shape)) for v in variables)
        if self.gates is not None:
            count += self.gates.parameter_count(self.current_program())
        return count

    def copy_from(self, other, parts=("stem", "norm", "head", "program")) -> None:
        """Copies ``parts`` of another task's path (a task starting as a copy of
        a source, or the same task in a grown model).  ``program`` copies the
        program, the logits (new bank columns 0), the selection and the
        temperature; ``gates`` copies gates (new blocks closed, zero deltas)."""
        for part in parts:
            if part == "program":
                self.program.assign(other.program)
                logits = np.zeros(self.mixture_logits.shape, np.float32)
                logits[:, : other.bank_size] = np.asarray(other.mixture_logits)
                self.mixture_logits.assign(logits)
                self.selection.assign(other.selection)
                self.temperature.assign(other.temperature)
            elif part == "gates":
                self.gates.copy_from(other.gates)
            else:
                for mine, theirs in zip(
                    getattr(self, part).weights, getattr(other, part).weights, strict=True
                ):
                    mine.assign(theirs)

    def get_config(self):
        config = super().get_config()
        config.update(
            spec=dataclasses.asdict(self.spec),
            bank_size=self.bank_size,
            depth=self.depth,
            channels=self.channels,
            resolution=self.resolution,
            norm_sites=self.norm_sites,
            norm_placement=self.norm_placement,
            head=self.head_kind,
            program=self.current_program() if self.built else self.initial_program,
            gate_shapes=None if self.gates is None else self.gates.param_shapes,
            gate_rank=None if self.gates is None else self.gates.rank,
            seed=self.seed,
        )
        return config
