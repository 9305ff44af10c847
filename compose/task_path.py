"""Everything one task owns: its stem, program, normalisation and head."""

import dataclasses

import keras
import numpy as np
from keras import ops

from compose.gates import BlockGates
from compose.normalization import BN_MOMENTUM, TaskNormalization, fused_batch_norm
from compose.program import IDENTITY, pad_program, unpad_program, validate_program
from compose.seeds import derive_seed


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What the model needs to know of a task (the data side lives in :mod:`tasks`)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(
                f"task {self.name!r}: image_shape must be (height, width, channels), "
                f"got {self.image_shape}"
            )
        if self.num_classes < 2:
            raise ValueError(
                f"task {self.name!r}: num_classes must be at least 2, got {self.num_classes}"
            )


def build_stem(channels, resolution, name, seed=0):
    """Maps raw uint8 images of any size to ``[resolution, resolution, channels]``.

    Images are scaled to [0, 1], resized to twice the bank's resolution and
    reduced by a strided 3x3 convolution, as in the isometric networks of the
    paper (a strided stem into 16x16xC).  ``seed`` is the kernel initialiser's.
    """
    return keras.Sequential(
        [
            keras.layers.Rescaling(1.0 / 255, name=f"{name}_rescale"),
            keras.layers.Resizing(2 * resolution, 2 * resolution, name=f"{name}_resize"),
            keras.layers.Conv2D(
                channels,
                3,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                name=f"{name}_conv",
            ),
            keras.layers.BatchNormalization(
                momentum=BN_MOMENTUM, synchronized=True, name=f"{name}_norm"
            ),
            keras.layers.ReLU(name=f"{name}_relu"),
        ],
        name=name,
    )


def build_head(num_classes, name, seed=0):
    """Features ``[H, W, C]`` to class logits; ``seed`` is the kernel initialiser's."""
    return keras.Sequential(
        [
            keras.layers.BatchNormalization(
                momentum=BN_MOMENTUM, synchronized=True, name=f"{name}_norm"
            ),
            keras.layers.ReLU(name=f"{name}_relu"),
            keras.layers.GlobalAveragePooling2D(name=f"{name}_pool"),
            keras.layers.Dense(
                num_classes,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                name=f"{name}_logits",
            ),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="compose")
class TaskPath(keras.layers.Layer):
    """One task's own parameters and program state.

    The program is a ``[depth]`` int32 variable (IDENTITY-padded), so changing
    it never retraces.  ``mixture_logits`` hold the relaxed program; while
    ``relaxed`` is 1.0 the softmax of the logits selects the blocks, while 0.0
    the one-hot program does.

    Args:
      spec: the task's :class:`TaskSpec` (or its dict form).
      bank_size, depth, channels, resolution: the model's shape.
      norm_sites: the block family's normalisation sites.
      program: initial block indices (default: ``0, 1, ..`` cycling the bank).
      gate_shapes: parameter shapes of one bank block; given, the task owns
        gated weight deltas of every block (:class:`compose.gates.BlockGates`).
      seed: the run's seed; the stem's and head's initialisers derive theirs
        from it and the task's name.
    """

    def __init__(
        self,
        spec,
        bank_size,
        depth,
        channels,
        resolution,
        norm_sites,
        program=None,
        gate_shapes=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.spec = spec if isinstance(spec, TaskSpec) else TaskSpec(**spec)
        self.bank_size = bank_size
        self.depth = depth
        self.channels = channels
        self.resolution = resolution
        self.seed = seed
        if program is None:
            program = [layer % bank_size for layer in range(depth)]
        self.initial_program = validate_program(self.spec.name, program, bank_size, depth)
        name = self.spec.name
        self.stem = build_stem(
            channels, resolution, f"{name}_stem", derive_seed(seed, "stem", name)
        )
        self.norm = TaskNormalization(norm_sites, depth, name=f"{self.spec.name}_norm")
        self.head = build_head(
            self.spec.num_classes, f"{name}_head", derive_seed(seed, "head", name)
        )
        self.gates = None
        if gate_shapes is not None:
            self.gates = BlockGates(gate_shapes, bank_size, name=f"{self.spec.name}_gates")

    def build(self, input_shape=None):
        self.stem.build((None, *self.spec.image_shape))
        self.norm.build()
        self.head.build((None, self.resolution, self.resolution, self.channels))
        if self.gates is not None:
            self.gates.build()
        row = pad_program(self.initial_program, self.depth)
        self.program = self.add_weight(
            name="program",
            shape=(self.depth,),
            dtype="int32",
            initializer=keras.initializers.Constant(IDENTITY),
            trainable=False,
        )
        self.program.assign(row)
        self.mixture_logits = self.add_weight(
            name="mixture_logits", shape=(self.depth, self.bank_size), initializer="zeros"
        )
        self.relaxed = self.add_weight(
            name="relaxed", shape=(), initializer="zeros", trainable=False
        )
        self.temperature = self.add_weight(
            name="temperature", shape=(), initializer="ones", trainable=False
        )
        self.built = True

    def mixture(self):
        """``[depth, bank_size]`` weight of each block at each layer."""
        hard = ops.one_hot(self.program, self.bank_size)
        soft = ops.softmax(self._scaled_logits(), axis=-1)
        return self.relaxed * soft + (1.0 - self.relaxed) * hard

    def mixture_entropy(self):
        """Mean entropy of the per-layer soft mixtures; 0 for a hard program."""
        log_soft = ops.log_softmax(self._scaled_logits(), axis=-1)
        entropy = -ops.sum(ops.exp(log_soft) * log_soft, axis=-1)
        return self.relaxed * ops.mean(entropy)

    def _scaled_logits(self):
        return self.mixture_logits / self.temperature

    def active(self):
        """``[depth]`` 1.0 for layers the program runs, 0.0 for IDENTITY padding."""
        return ops.cast(ops.not_equal(self.program, IDENTITY), "float32")

    def head_with_batch_statistics(self, x):
        """Logits with the head's normalisation using ``x``'s own moments.

        For scoring programs the task was not trained with: the head's moving
        statistics describe the trained program's features, not theirs.  No
        state changes (Keras' ``training=True`` would update the moving
        statistics).
        """
        norm, *rest = self.head.layers
        x = fused_batch_norm(x, norm.gamma, norm.beta, norm.epsilon)
        for layer in rest:
            x = layer(x, training=False)
        return x

    def kernel_deltas(self):
        """The task's gated deltas of the bank's kernels, or None without gates."""
        return None if self.gates is None else self.gates.kernel_deltas()

    def current_program(self) -> list[int]:
        return unpad_program(ops.convert_to_numpy(self.program))

    def current_mixture(self) -> np.ndarray:
        return ops.convert_to_numpy(self.mixture())

    def own_parameter_count(self) -> int:
        """Trainable values only this task uses: stem, norm, head, the mixture
        logits while relaxed, and the gates the program reads
        (:meth:`BlockGates.parameter_count`)."""
        variables = self.stem.trainable_variables + self.norm.trainable_variables
        variables += self.head.trainable_variables
        if float(ops.convert_to_numpy(self.relaxed)):
            variables.append(self.mixture_logits)
        count = sum(int(np.prod(v.shape)) for v in variables)
        if self.gates is not None:
            count += self.gates.parameter_count(self.current_program())
        return count

    def get_config(self):
        config = super().get_config()
        config.update(
            spec=dataclasses.asdict(self.spec),
            bank_size=self.bank_size,
            depth=self.depth,
            channels=self.channels,
            resolution=self.resolution,
            norm_sites=self.norm.sites,
            program=self.current_program() if self.built else self.initial_program,
            gate_shapes=None if self.gates is None else self.gates.param_shapes,
            seed=self.seed,
        )
        return config
