"""Derived domains: MNIST-C style corruptions of real images, for domain adaptation.

Nothing here is a new dataset: each function turns a real split's uint8
images into a corrupted copy (Mu & Gilmer, 2019, "MNIST-C"), with a fixed
seed so every load gives the same images.  Tasks built on them carry
"derived" in their names and descriptions.
"""

import numpy as np

SEED = 20190605


def _per_image_rng(images):
    """A generator fixed by the split's size, so train and test differ but repeat."""
    return np.random.default_rng([SEED, len(images)])


def _map_about_centre(images, matrices):
    """Nearest-neighbour resampling: output pixel ``p`` reads input ``A (p - c) + c``.

    Args:
      images: ``[N, H, W, C]`` uint8.
      matrices: ``[N, 2, 2]`` output-to-input maps on (row, column).
    """
    n, height, width, _ = images.shape
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offsets = np.stack([rows, cols], axis=-1).reshape(-1, 2) - centre  # [HW, 2]
    source = np.einsum("nij,pj->npi", matrices, offsets) + centre  # [N, HW, 2]
    source = np.rint(source).astype(np.int64)
    inside = (
        (source[..., 0] >= 0)
        & (source[..., 0] < height)
        & (source[..., 1] >= 0)
        & (source[..., 1] < width)
    )
    flat = images.reshape(n, height * width, -1)
    index = np.clip(source[..., 0], 0, height - 1) * width + np.clip(source[..., 1], 0, width - 1)
    out = np.take_along_axis(flat, index[..., None], axis=1) * inside[..., None]
    return out.reshape(images.shape).astype(np.uint8)


def shear(images, max_shear=0.5):
    """Horizontal shear by a random factor in ``[-max_shear, max_shear]`` per image."""
    factors = _per_image_rng(images).uniform(-max_shear, max_shear, len(images))
    matrices = np.zeros((len(images), 2, 2))
    matrices[:, 0, 0] = matrices[:, 1, 1] = 1.0
    matrices[:, 1, 0] = factors
    return _map_about_centre(images, matrices)


def scale(images, smallest=0.55, largest=0.8):
    """Shrinks each image about its centre by a random factor in ``[smallest, largest]``."""
    factors = _per_image_rng(images).uniform(smallest, largest, len(images))
    matrices = np.eye(2)[None] / factors[:, None, None]
    return _map_about_centre(images, matrices)


def shot_noise(images, photons=20.0):
    """Poisson noise: each pixel a count of ``photons * intensity`` photons."""
    counts = _per_image_rng(images).poisson(images.astype(np.float64) / 255 * photons)
    return np.clip(counts / photons * 255, 0, 255).astype(np.uint8)


CORRUPTIONS = {"shear": shear, "scale": scale, "shot_noise": shot_noise}
