r"""The main job: Fashion-MNIST, UCI digits and animal silhouettes jointly,
programs searched in two rounds over the first 20% of 1,500 steps.

  python -m compose.train --config=main

Expected (2026-12-06, 2-core Intel Xeon family 6 model 167; medians of seeds
0, 1, 2, ``--seed=S``): mean test accuracy 0.9291 (0.9280-0.9304);
Fashion-MNIST 0.8508, UCI digits 0.9889, animal silhouettes 0.9470; about 5
minutes a seed (docs/reproducibility.md).  These are the tree's defaults.
"""

from tasks import DEFAULT_SUITE


def get_config() -> dict:
    return {"tasks": list(DEFAULT_SUITE)}
