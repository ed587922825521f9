"""Compile and cache every numba kernel of streamal, so a container starts warm.

Run once at image build time (see deploy/Dockerfile). Every query strategy of
each task is run with every budget manager it takes on a tiny batch: each
jitted function is then compiled for the argument types the daemon uses and
written to numba's cache (``NUMBA_CACHE_DIR`` if set, otherwise
``__pycache__`` beside the sources). A classifier's rows are class
probabilities, a regressor's its predicted values and deviations (the
committee's rows the members' values); leverage learns feature rows alone.
Prints one line per strategy and task and exits non-zero if any decision fails.
"""

from __future__ import annotations

import time

import numpy as np

from streamal.decider import TASKS, Decider, budget_managers_of, strategies_for

N = 64


def _rows(rng: np.random.Generator, task: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch's rows and committee as the engine gives them for ``task``."""
    if task == "regression":
        values = np.column_stack([rng.normal(size=N), rng.uniform(0.1, 2.0, size=N)])
        return values, rng.normal(size=(N, 5, 1))
    return rng.dirichlet([1.0, 1.0, 1.0], size=N), rng.dirichlet([1.0, 1.0, 1.0], size=(N, 5))


def main() -> int:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for task in TASKS:
        rows, committee = _rows(rng, task)
        for strategy in strategies_for(task):
            for manager in budget_managers_of(strategy):
                decider = Decider(strategy, budget=0.1, budget_manager=manager, task=task)
                # Density, PAL and leverage rules compile their feature and learning kernels.
                features = rng.normal(size=(N, decider.n_features))
                if task == "regression":
                    decider.learn(features)
                else:
                    decider.learn(features, rng.integers(0, 3, size=N))
                queried, scores = decider.decide(rows, features=features, committee=committee)
                # A regression utility the model cannot tell is NaN; a class score never is.
                known = scores if task == "classification" else scores[~np.isnan(scores)]
                if queried.shape != (N,) or not np.isfinite(known).all():
                    print(f"warm-up failed: {strategy}/{manager} ({task})")
                    return 1
            print(f"warmed {strategy} ({task})")
    print(f"numba cache warm in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
