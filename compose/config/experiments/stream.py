r"""The growing stream: a root bank trained on Fashion-MNIST, then ten tasks
(five real, five derived domains: tasks.catalog.TASK_STREAM) added one at a
time, each evolved over the frozen system (muNet).

  python -m compose.train --config=stream --model_dir=runs/stream
  python -m compose.grow --config=stream --model_dir=runs/stream \
      --data_dir=../shared/data --tasks=mnist_partial,usps,uci_digits,\
animal_silhouettes,cifar10_partial,mnist_partial_shear,usps_scale,\
animal_silhouettes_shear,cifar10_partial_shot_noise,mnist_partial_scale
  python -m benchmarks.stream --data_dir=../shared/data

Expected (2026-12-07, 2-core AMD EPYC Zen 3; medians of seeds 0, 1, 2,
each alone; docs/growing.md): mean test accuracy over the ten tasks 0.8364
(fine-tuning of the root 0.8133), the system 6.8x the root after ten tasks
(5.7x with ``--size_penalty=0.9``, 0.8338), earlier tasks' outputs
unchanged, at most about 420 s a task alone.
"""

from tasks.catalog import STREAM_ROOT


def get_config() -> dict:
    return {"tasks": list(STREAM_ROOT), "grow": {"validation_examples": 1000}}
