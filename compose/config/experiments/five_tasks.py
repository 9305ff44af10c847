r"""The five-task suite: Fashion-MNIST, MNIST-partial, USPS, UCI digits and
CIFAR-10-partial over a bank of K = 8, the last 1,000 training examples of
every task held out to validate.

  python -m compose.train --config=five_tasks --data_dir=../shared/data
  python -m benchmarks.programs --data_dir=../shared/data --suites=five

Expected (2026-12-06, 2-core Intel Xeon family 6 model 167; medians of seeds
0, 1, 2): mean validation accuracy 0.8630, mean test accuracy 0.8502
(docs/results.md, "programs learned?").
"""

from tasks import SHARED_DATA_SUITE


def get_config() -> dict:
    return {
        "tasks": list(SHARED_DATA_SUITE),
        "model": {"bank_size": 8},
        "train": {"validation_examples": 1000},
    }
