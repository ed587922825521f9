"""Compile and cache every numba kernel of streamal, so a container starts warm.

Run once at image build time (see deploy/Dockerfile). Every query strategy is
run with every budget manager it takes on a tiny batch: each jitted function is then
compiled for the argument types the daemon uses and written to numba's cache
(``NUMBA_CACHE_DIR`` if set, otherwise ``__pycache__`` beside the sources).
Prints one line per strategy and exits non-zero if any decision fails.
"""

from __future__ import annotations

import time

import numpy as np

from streamal.decider import STRATEGIES, Decider, budget_managers_of


def main() -> int:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=64)
    committee = rng.dirichlet([1.0, 1.0, 1.0], size=(64, 5))
    start = time.perf_counter()
    for strategy in STRATEGIES:
        for manager in budget_managers_of(strategy):
            decider = Decider(strategy, budget=0.1, budget_manager=manager)
            # Density and PAL rules compile their feature and learning kernels too.
            features = rng.normal(size=(64, decider.n_features))
            decider.learn(features, rng.integers(0, 3, size=64))
            queried, scores = decider.decide(proba, features=features, committee=committee)
            if queried.shape != (64,) or not np.isfinite(scores).all():
                print(f"warm-up failed: {strategy}/{manager}")
                return 1
        print(f"warmed {strategy}")
    print(f"numba cache warm in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
