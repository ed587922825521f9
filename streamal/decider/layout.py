"""Slot numbers of the arrays a decider is made of.

A decider is three plain numpy arrays, so that a checkpoint is just those
arrays and restoring them gives the exact same future decisions:

* ``codes`` (int64): which measure, query rule and budget manager;
* ``params`` (float64): the fixed parameters;
* ``state`` (float64): counters, thresholds and the quantile-filter window,
  whose ring buffer and sorted copy sit after the scalar slots, then the
  strategy's own region (from ``params[REGION]``: a density window of
  feature rows, a window of labeled feature rows, the inverse design
  matrix of leverage sampling), if it has one, and the
  ring of pending queries of delay-aware querying (from ``params[PENDING_REGION]``);

plus a one-word ``uint64`` generator state (see :mod:`streamal.decider.rng`).
"""

# codes
MEASURE = 0
RULE = 1
BUDGET_MANAGER = 2
N_CODES = 3

# params
BUDGET = 0
WINDOW = 1  # w of the estimated budget
THETA0 = 2  # initial threshold of the variable-uncertainty family
STEP = 3  # s: relative threshold step
DELTA = 4  # standard deviation of the threshold randomisation
SPLIT_V = 5  # share of random queries in the split strategy
SELECTIVE_B = 6  # b of selective sampling, b / (b + |p|)
DISCOUNT = 7  # exponent of the entropy sampler
BIQF_WINDOW = 8
BIQF_TOLERANCE = 9  # w_tol of the balanced quantile filter
HARD_CAP = 10  # 1.0: at most floor(b * n) + 1 labels at any prefix (but in a drift burst)
FIXED_THETA = 11  # fixed uncertainty threshold; NaN: derived from budget and classes
BUDGET_NUMERATOR = 12  # the budget as a fraction, for exact label counting
BUDGET_DENOMINATOR = 13
N_FEATURES = 14  # width of the feature rows, for strategies that measure distances
OWN_WINDOW = 15  # size of the strategy's own window (density, cognition or labeled events)
REGION = 16  # index in ``state`` where the strategy's own region starts
DENSITY_THRESHOLD = 17  # CogDQS: neighbours an event must take over to count as dense
BANDWIDTH = 18  # PAL: standard deviation of the Gaussian kernel
PAL_M = 19  # PAL: most hypothetical labels considered
PAL_PRIOR = 20  # PAL: Dirichlet prior added to every class frequency
PAL_POSTERIOR = 26  # PAL: 0, kernel class frequencies; 1, kernel label count × model posterior
CAP_RESERVE = 21  # drift-aware: a burst may borrow the labels of this many events (w)
PENDING_EVENTS = 22  # delay-aware: a query counts as pending for this many events (0: off)
PENDING_RADIUS = 23  # delay-aware: events closer than this to a pending query are not asked
PENDING_REGION = 24  # index in ``state`` of the ring of pending queries
PENDING_SIZE = 25  # queries the ring holds
BANDIT_ARMS = 27  # bandit: how many query rules it chooses between
BANDIT_ETA = 28  # bandit: learning rate of the exponential weights
BANDIT_GAMMA = 29  # bandit: share of the choice spread evenly over the rules
BANDIT_FORGET = 30  # bandit: pull of the weights back to even, per answer
BANDIT_RECEIPTS = 31  # bandit: queries whose answer can still be credited
BANDIT_REWARD = 32
BANDIT_RANDOM_SHARE = 33  # bandit: share f of the budget asked uniformly at random
BANDIT_RAMP = 34  # bandit: labels spent before the random share is whole
RIDGE = 35  # leverage: λ of the design matrix A = λI + Σ x x'
INTERCEPT = 36  # leverage: 1.0 puts a constant column before the feature rows
COVERAGE = 37  # interval width: coverage of the central prediction interval
INTERVAL_Z = 38  # interval width: the normal quantile z of that coverage, (1 + c) / 2
EVEN_SHARE = 39  # regression rules: share f of the budget asked at an even pace
LABELED_WINDOW = 40  # density ratio: asked feature rows remembered (M)
NEIGHBOURS = 41  # density ratio: k of the k-th nearest recent event
BANDIT_CATCH_UP = 42  # bandit: labels owed to the budget at which the rules' chances double
N_PARAMS = 43

# state
SEEN = 0  # events decided
QUERIED = 1  # events queried
ESTIMATE = 2  # u_t = u_{t-1} (w - 1) / w + 1[queried]
THETA = 3
WINDOW_COUNT = 4  # utilities held in the quantile-filter window
WINDOW_HEAD = 5  # next ring position to overwrite
DRIFTS = 6  # drifts detected on the labeled error stream (drift-aware spending)
BURST_UNTIL = 7  # last event of the burst after a drift, when the cap lends its reserve
REFUNDED = 8  # queries counted in QUERIED that a cost or answer budget then vetoed
N_SCALARS = 9
