"""Self-organisation plots: which bank block each task runs at each layer.

One heat-map panel per task, rows = layers, columns = bank blocks: the soft
mixture at the end of the relaxed phase (when the run had one) above the hard
program the task ends with; when the run scored the kept programs' standing
(``train.standing_candidates``), a bottom row of histograms: the held-out
accuracy of the random programs and single-position changes scored over the
bank at that moment, the kept program marked.  Written as ``programs.png`` in the model dir and
as an image in its TensorBoard logs (``plots/``).

  python -m compose.plots --model_dir=runs/main
"""

import io
import os

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

from compose.errors import InvalidInputError  # noqa: E402
from compose.files import read_json, write_atomically  # noqa: E402


def one_hot_program(program, depth, bank_size) -> np.ndarray:
    """``[depth, bank_size]`` with a 1 at each layer's block (identity rows empty)."""
    grid = np.zeros((depth, bank_size))
    for layer, block in enumerate(program):
        grid[layer, block] = 1.0
    return grid


def standing_histogram(axis, entry: dict | None, first: bool) -> None:
    """Held-out accuracies of the candidates scored when the program was kept,
    the kept one's as a red line: its ``standing``
    (:mod:`compose.search.standing`: random programs and single changes), else
    the candidates of its last search round (:mod:`compose.search.rounds`)."""
    if entry is None:
        axis.axis("off")
        return
    bins = np.linspace(0.0, 1.0, 41)
    if "standing" in entry:
        standing = entry["standing"]
        kept = standing["kept_accuracy"]
        axis.hist(standing["random_accuracies"], bins=bins, color="0.6", label="random")
        axis.hist(
            standing["change_accuracies"], bins=bins, color="tab:blue", alpha=0.6, label="1 change"
        )
        title = f"kept above {standing['percentile']:.0f}% of random"
    else:
        last = entry["rounds"][-1]
        scores = last["candidate_accuracies"]
        kept = last["best_accuracy"]
        axis.hist(scores, bins=bins, color="tab:blue", alpha=0.6, label="searched")
        title = f"step {last['step']}: best of {len(scores)}"
    axis.axvline(kept, color="tab:red", label="kept")
    axis.set_xlabel("held-out accuracy")
    axis.set_title(title, fontsize=8)
    if first:
        axis.set_ylabel("candidates")
        axis.legend(fontsize=6)


def program_figure(programs: dict, discretisation: dict | None = None):
    """The figure for a ``programs.json`` content (and ``metrics["discretisation"]``)."""
    depth, bank_size = programs["depth"], programs["bank_size"]
    tasks = list(programs["programs"])
    soft = {
        t: np.asarray(entry["learned_mixture"])
        for t, entry in (discretisation or {}).items()
        if "learned_mixture" in entry and t in programs["programs"]
    }
    rows = [("mixture at discretisation", soft)] if soft else []
    hard = {t: one_hot_program(programs["programs"][t]["program"], depth, bank_size) for t in tasks}
    rows.append(("program", hard))
    standing = {
        t: entry
        for t, entry in (discretisation or {}).items()
        if ("standing" in entry or entry.get("rounds")) and t in programs["programs"]
    }
    figure, axes = plt.subplots(
        len(rows) + bool(standing),
        len(tasks),
        figsize=(
            1.2 + 0.45 * bank_size * len(tasks),
            0.9 + 0.32 * depth * len(rows) + 2.0 * bool(standing),
        ),
        squeeze=False,
    )
    for column, task in enumerate(tasks):
        if standing:
            standing_histogram(axes[-1][column], standing.get(task), first=column == 0)
    for row, (kind, grids) in enumerate(rows):
        for column, task in enumerate(tasks):
            axis = axes[row][column]
            if task not in grids:
                axis.axis("off")
                continue
            axis.imshow(grids[task], vmin=0.0, vmax=1.0, cmap="Blues", aspect="auto")
            axis.set_xticks(range(bank_size))
            axis.set_yticks(range(depth))
            axis.set_xlabel("block")
            if column == 0:
                axis.set_ylabel(f"{kind}\nlayer")
            title = task if kind != "program" else f"{task}\n{programs['programs'][task]['text']}"
            axis.set_title(title, fontsize=8)
    figure.tight_layout()
    return figure


def write_program_plots(model_dir: str, programs: dict, discretisation=None, step=0) -> str:
    """Writes ``programs.png`` and TensorBoard summaries (``plots/``) of a run.

    Args:
      model_dir: where they go.
      programs: the run's ``programs.json`` content.
      discretisation: its ``metrics["discretisation"]``, if any (soft mixtures).
      step: the TensorBoard step.
    """
    figure = program_figure(programs, discretisation)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    path = os.path.join(model_dir, "programs.png")
    write_atomically(path, buffer.getvalue())
    image = tf.image.decode_png(buffer.getvalue(), channels=4)[tf.newaxis]
    with tf.summary.create_file_writer(os.path.join(model_dir, "plots")).as_default(step=step):
        tf.summary.image("programs", image)
        for task, entry in programs["programs"].items():
            tf.summary.text(f"program/{task}", entry["text"])
    return path


def check_programs_report(programs, path: str) -> None:
    """Raises InvalidInputError unless ``programs`` has the shape of a run's
    ``programs.json`` (checked before anything is drawn or written)."""
    entries = programs.get("programs") if isinstance(programs, dict) else None
    ok = (
        isinstance(entries, dict)
        and all(isinstance(programs.get(key), int) for key in ("depth", "bank_size"))
        and all(
            isinstance(entry, dict)
            and isinstance(entry.get("program"), list)
            and isinstance(entry.get("text"), str)
            for entry in entries.values()
        )
    )
    if not ok:
        raise InvalidInputError(
            f"{path}: expected a programs.json written by compose.train "
            '({"depth": L, "bank_size": K, "programs": {task: {"program": [...], "text": ...}}})'
        )


def main(argv):
    from compose.cli import build_config

    build_config(flags.FLAGS, sections=(), flag_fields={})  # no config values: say so if given
    model_dir = flags.FLAGS.model_dir
    programs_path = os.path.join(model_dir, "programs.json")
    programs = read_json(programs_path, "programs of the run")
    check_programs_report(programs, programs_path)
    metrics = read_json(os.path.join(model_dir, "metrics.json"), "metrics of the run")
    path = write_program_plots(model_dir, programs, metrics.get("discretisation"), metrics["step"])
    print(f"wrote {path}")


def run():
    """Console-script entry point.  The binary's flags are those of :mod:`compose.cli`,
    imported here because this module is also a library, and a library must
    not define flags in its importer's process."""
    from compose.cli import run_binary

    flags.mark_flag_as_required("model_dir")
    run_binary(main)


if __name__ == "__main__":
    run()
