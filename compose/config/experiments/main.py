r"""The main job: Fashion-MNIST, UCI digits and animal silhouettes jointly,
programs searched in two rounds over the first 20% of 1,500 steps.

  python -m compose.train --config=main

Expected (2026-12-06, 2-core Intel Xeon family 6 model 167; medians of seeds
0, 1, 2, ``--seed=S``): mean test accuracy 0.9282 (0.9267-0.9286);
Fashion-MNIST 0.8474, UCI digits 0.9861, animal silhouettes 0.9475; 5-6
minutes a seed (docs/results.md).  These are the tree's defaults.
"""

from tasks import DEFAULT_SUITE


def get_config() -> dict:
    return {"tasks": list(DEFAULT_SUITE)}
