"""Program search rounds between phases of joint training (Alet et al., CoRL 2018).

Programs stay hard throughout, so what trains is always what runs.  At a few
steps of the learning phase, each task's program is searched from where it
stands, over the bank as it is at that moment, and a change is kept only
when it scores strictly higher on the task's search examples (held out of its
training split); the task's normalisation statistics are then re-estimated
for its new program.  The rounds run at fixed steps, on loop boundaries,
from the model's state alone, so a run killed anywhere and resumed from its
checkpoint replays them exactly.
"""

from compose.core.statistics import refresh_statistics
from compose.files import write_json
from compose.search import ProgramScorer, search_program
from compose.seeds import derive_seed


def round_steps(learning_steps: int, rounds: int, steps_per_loop: int) -> list[int]:
    """The steps at which rounds run: ``rounds`` evenly spread over
    ``learning_steps``, the last at its end, the others rounded to loop
    boundaries (multiples of ``steps_per_loop``) so that each runs before a
    loop of training steps; duplicates collapse when the phase is short."""
    steps = {learning_steps}
    for index in range(1, rounds):
        step = round(learning_steps * index / rounds / steps_per_loop) * steps_per_loop
        if 0 < step < learning_steps:
            steps.add(step)
    return sorted(steps)


class SearchRounds:
    """The search rounds of one run; an instance is the trainer's
    ``before_loop`` (it runs the round due at a step, if any).

    Args:
      model: the :class:`compose.ComposedModel` being trained.
      search_splits: ``{task: Split}`` examples held out to score candidates.
      train_images: ``{task: images}`` to re-estimate statistics on.
      strategy: a discrete strategy of :mod:`compose.search.strategies`.
      budget: distinct candidates per task and round.
      seed: the run's seed (each round's and task's derives from it).
      steps: :func:`round_steps`.
      log: ``{task: [round records]}`` of rounds already run (resuming).
      record_path: a JSON file rewritten with :attr:`log` after every round.
    """

    def __init__(
        self,
        model,
        search_splits,
        train_images,
        strategy,
        budget,
        seed,
        steps,
        log=None,
        record_path=None,
    ):
        self.model = model
        self.train_images = train_images
        self.strategy = strategy
        self.budget = budget
        self.seed = seed
        self.steps = list(steps)
        self.scorers = {
            task: ProgramScorer(model, task, split) for task, split in search_splits.items()
        }
        self.log = {task: list((log or {}).get(task, [])) for task in search_splits}
        self.record_path = record_path

    def forget_from(self, step: int) -> None:
        """Drops the records of rounds at ``step`` or later (a resumed run's
        checkpoint at ``step`` predates them; they run again)."""
        for task, records in self.log.items():
            self.log[task] = [record for record in records if record["step"] < step]

    def __call__(self, step: int) -> None:
        if step in self.steps:
            self.run(step)

    def run(self, step: int) -> None:
        """Searches every task's program from where it stands; keeps a change
        only when it scores strictly higher than the current program."""
        for task, scorer in self.scorers.items():
            start = self.model.program(task)
            best, candidates = search_program(
                self.model,
                task,
                None,
                strategy=self.strategy,
                budget=self.budget,
                seed=derive_seed(self.seed, "search_round", step, task),
                start=start,
                scorer=scorer,
            )
            kept = candidates[0].accuracy  # the start program is scored first
            changed = best.accuracy > kept
            if changed:
                self.model.set_program(task, list(best.program))
                refresh_statistics(self.model, task, self.train_images[task])
            self.log[task].append(
                {
                    "step": step,
                    "start": start,
                    "start_accuracy": kept,
                    "best_accuracy": best.accuracy,
                    "changed": changed,
                    "program": self.model.program(task),
                    "evaluations": len(candidates),
                    "candidate_accuracies": [candidate.accuracy for candidate in candidates],
                }
            )
        if self.record_path:
            write_json(self.record_path, self.log)
