"""`TrainingFold`: the model as a fold over the training log.

Every replica reads the same training log in the same order and applies
the same rule, so they all learn the same examples. The rule makes each
labeled event count once: after a crash, a label may be joined again and
its example appended twice, and two replicas may both answer an id after a
rebalance. An example whose id was learned recently is skipped, and reading
an example closes the pending (or waiting) query of that id, so a label arriving again
later is a duplicate rather than a second example.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from streamal.engine import Engine, TrainingExample

__all__ = ["TrainingFold"]

log = logging.getLogger("streamal.training")


class TrainingFold:
    """Learn from training-log records in order, each id at most once.

    Parameters
    ----------
    engine
        The engine whose model learns and whose pending queries are closed.
    memory
        How many learned ids are remembered to skip repeats; by default four
        times the engine's pending bound, more than a crash can redo.

    Examples
    --------

    >>> from streamal.decider import Decider
    >>> from streamal.engine import Engine, TrainingExample
    >>> fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("split", 0.1)))
    >>> a = TrainingExample("a", {"x": 1.0}, "low", 0.0, 1.0, None)
    >>> b = TrainingExample("b", {"x": 9.0}, "high", 0.0, 1.0, None)
    >>> [e.id for e in fold.apply([a, b, a])], fold.skipped, fold.engine.model.version
    (['a', 'b'], 1, 2)

    """

    def __init__(self, engine: Engine, memory: int = 0) -> None:
        self.engine = engine
        self.memory = memory or 4 * engine.pending.max_size
        self.skipped = 0
        #: examples the model refused (e.g. a string feature for a numeric-only model)
        self.failed = 0
        #: the examples the last :meth:`apply` could not learn, each with the model's error
        self.refused: list[tuple[TrainingExample, str]] = []
        self._learned: OrderedDict[str, None] = OrderedDict()

    def __setstate__(self, state: dict) -> None:
        # Snapshots written before refusals were reported lack the list.
        self.__dict__.update(refused=[])
        self.__dict__.update(state)

    def __contains__(self, example_id: str) -> bool:
        """Whether the example of this id was learned (recently enough to be remembered)."""
        return example_id in self._learned

    def apply(self, examples: Sequence[TrainingExample]) -> list[TrainingExample]:
        """Learn the examples not learned before; returns those the model took.

        One at a time, so that an example the model refuses is skipped alone
        (and by every replica alike) instead of stopping the log.
        """
        learned = []
        self.refused = []
        for example in examples:
            if example.id in self._learned:
                self.skipped += 1
                continue
            self._learned[example.id] = None
            if len(self._learned) > self.memory:
                self._learned.popitem(last=False)
            self.engine.close(example.id)
            try:
                self.engine.learn([example])
            except Exception as e:  # the model is the user's choice; its errors are data
                self.failed += 1
                self.refused.append((example, f"{type(e).__name__}: {e}"))
                log.error("the model refused training example %r: %s", example.id, e)
                continue
            learned.append(example)
        return learned
