"""The shared bank: K interchangeable blocks stored as stacked weights."""

import keras
from keras import ops

from blocks import get_family
from compose.seeds import derive_seed


@keras.saving.register_keras_serializable(package="compose")
class BlockBank(keras.layers.Layer):
    """K blocks of one isometric family, each parameter kind one ``[K, ...]`` weight.

    A layer of a task selects its block through a mixture vector over the K
    blocks: the block *weights* are mixed (``tensordot(mix, w)``), then one block
    runs.  A one-hot mixture is exactly a hard program; a softmax mixture is the
    relaxed program of the Compositional Models paper.  Both take the same code
    path, the gradient reaching the bank is dense (no ``IndexedSlices``), and a
    program held in a variable never causes a retrace.

    Args:
      block: name of a family in :mod:`blocks`.
      bank_size: K, the number of blocks.
      channels: C, the width every block keeps.
      seed: the run's seed; each kernel's initialiser derives its own from it.

    Example:
      >>> bank = BlockBank("inverted_bottleneck", bank_size=4, channels=16)
      >>> bank.build()
      >>> bank.block_size
      3744
    """

    def __init__(self, block="inverted_bottleneck", bank_size=4, channels=40, seed=0, **kwargs):
        super().__init__(**kwargs)
        if bank_size < 1:
            raise ValueError(f"bank_size must be at least 1, got {bank_size}")
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        self.block = block
        self.bank_size = bank_size
        self.channels = channels
        self.seed = seed
        self.family = get_family(block)

    def build(self, input_shape=None):
        self.kernels = [
            self.add_weight(
                name=name,
                shape=(self.bank_size, *spec.shape),
                initializer=keras.initializers.RandomNormal(
                    stddev=spec.init_stddev, seed=derive_seed(self.seed, "bank", name)
                ),
            )
            for name, spec in self.family.param_specs(self.channels).items()
        ]
        self.built = True

    @property
    def block_size(self) -> int:
        """Parameters in one block."""
        return self.family.block_size(self.channels)

    def run(self, x, mixture, active, normalize, kernel_deltas=None):
        """Runs ``x`` through one task's program.

        Args:
          x: ``[B, H, W, C]`` features from the task's stem.
          mixture: ``[L, K]`` weight of each bank block at each layer.
          active: ``[L]`` 1.0 where the layer runs, 0.0 where it is the identity.
          normalize: ``normalize(site, layer, h)``, the task's normalisation.
          kernel_deltas: the task's own ``[K, ...]`` change of each kernel
            (gated specialisation), or None.

        Returns:
          ``[B, H, W, C]`` features after L residual layers.
        """
        names = list(self.family.param_specs(self.channels))
        kernels = self.kernels
        if kernel_deltas is not None:
            kernels = [k + d for k, d in zip(kernels, kernel_deltas, strict=True)]
        for layer in range(mixture.shape[0]):
            params = {
                name: ops.tensordot(mixture[layer], kernel, axes=1)
                for name, kernel in zip(names, kernels, strict=True)
            }
            branch = self.family.apply(
                x, params, lambda site, h, layer=layer: normalize(site, layer, h)
            )
            x = x + active[layer] * branch
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            block=self.block, bank_size=self.bank_size, channels=self.channels, seed=self.seed
        )
        return config
