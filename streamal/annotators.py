"""Several annotators per query: how reliable each one is, and how their answers combine.

A label may come from any of several annotators, some better than others,
and the same query may be answered more than once. This module holds the
rules, with no I/O; :class:`streamal.engine.Engine` applies them.

**The model as a tempered prior.** The model's probability row ``p`` at
query time (its prediction ``ŷ`` with probability ``c``, the rest spread
evenly) is not trusted as it reports itself: a Hoeffding tree says 1.0 in a
pure leaf, and is confidently wrong after a drift. It enters as

    q = λ·p + (1 − λ)·u,    λ = max(0, (m − 1/C) / (c̄ − 1/C)),

with ``u`` the uniform row over the ``C`` classes, ``c̄`` the mean
self-reported confidence on the labeled queries and ``m`` the model's
*measured* accuracy on them, both exponentially weighted (``memory`` per
labeled example, ~50 examples by default) so that ``λ`` falls within a few
dozen labels of a drift. Annotators' answers are noisy, so agreement is
corrected for chance: an answer of an annotator of reliability ``r`` agrees
with the prediction with probability ``e + m·(r − e)``, ``e = (1 − r)/(C − 1)``,
hence ``m = Σ(agree − e) / Σ(r − e)`` over the answers (method of moments).
Until ``min_evidence`` answers are in, ``λ = 0``: the model says nothing.
The mean of ``q(ŷ)`` is then ``m``: the prior is calibrated in the large,
tempered when the model is overconfident (λ < 1) and sharpened when it is
underconfident (λ > 1, at most 10; a Hoeffding tree's naive-Bayes leaves
said 0.75 on SEA queries it got 86 % right), no class below ``0.02/C``. An
underconfident witness would make every annotator look better than it is.

**Reliability** (online one-coin Dawid–Skene). Each annotator ``a`` has a
Beta(α, β) belief about the probability ``r_a`` that its answer is the true
class, from the prior (α₀, β₀) = (2, 1); its estimate is the posterior mean
``r_a = α / (α + β)``. Errors are uniform over the other classes, so answer
``l_j`` has likelihood ``L_j(k) = r_j`` if ``k = l_j``, else
``(1 − r_j)/(C − 1)``. For each learned example with answers ``l_1 … l_n``,
the E step of Dawid & Skene (1979) gives the posterior of the true class

    π(k) ∝ q(k) · Π_j L_j(k)

(reliabilities as estimated before the example), and each named annotator's
Beta takes the *soft count* of its answer being right:

    t_j = π(l_j),   α_j += t_j,   β_j += 1 − t_j.

This is the online (stepwise) M step: it keeps the exact posterior mean of
``r_j`` after the example (the exact posterior is the mixture
``t_j·Beta(α+1, β) + (1 − t_j)·Beta(α, β+1)``), and at the true
reliabilities and a calibrated ``q``, ``E[t_j] = r_j``: the estimates are
unbiased, unlike agreement rates, which sit below the truth. With one
answer and ``λ = 0`` there is no witness (``t_j = r_j``) and nothing is
counted. Anonymous answers (no annotator) count with the prior's reliability.

Summed soft counts made while an estimate was still the prior's stay biased
toward it (with the model as the only witness, a 95 % annotator sat near
85 % after 70 answers). So each annotator also keeps, per answer, the
*other* evidence for it, ``z = log(a (C − 1) / (1 − a))`` with ``a`` the
posterior of its answer from ``q`` and the other answers only (then
``t = σ(z + logit r)``), on a grid of 1/16 in log-odds, and its counts are
refit after each answer at the fixed point

    r = (α₀ + Σ_n σ(z_n + logit r)) / (α₀ + β₀ + N),   α = r·(α₀ + β₀ + N),

batch EM for ``r_j`` with the others' evidence frozen as it was (``sweeps``
iterations; 1 is the plain online soft count above).

**Aggregation** (the training label). The class with the largest
reliability-weighted vote of the *answers*, ``Σ_{j answered k} w_j`` with
``w_j = log(r_j (C − 1) / (1 − r_j))`` (the log-likelihood ratio of
``L_j``). The model never outvotes an answer: one answer is learned as
given, and ties go to the class the tempered prior ``q`` favours (the
model's prediction if ``λ > 0``), else to the tied class answered first. So
the model cannot train on its own predictions and lock in its errors after
a drift; its say is only to ask for another answer.

**Second labels.** One more answer, from another annotator, is asked for
(:meth:`Annotators.second_label`) when the vote of the answers is right with
posterior ``π(vote) < confident`` (0.75) computed from the answers *alone*
(uniform ``q``): one answer from an annotator estimated below 75 %, or a
split vote. The model is deliberately not the trigger. Asking again only
when an answer contradicts the model checks the answers that would correct
the model and never those that confirm it, so the labels' remaining errors
lean toward the model's predictions and lock its errors in after a drift:
on SEA with an abrupt drift (Hoeffding tree, annotators 0.95/0.85/0.6,
cost budget 0.1, 20 seeds) that rule lost 1.3 ± 0.8 points of accuracy to
the first answer although its labels were right more often (89 % against
80 %); the model-blind rule is level with it, +0.4 ± 0.7
(``benchmarks/RESULTS.md``, "Multiple annotators").

References
----------
A. P. Dawid, A. M. Skene. *Maximum Likelihood Estimation of Observer
Error-Rates Using the EM Algorithm.* JRSS C 28(1), 1979.
M. Herde, D. Huseljic, B. Sick, A. Calma. *A Survey on Cost Types, Interaction
Schemes, and Annotator Performance Models in Selection Algorithms for Active
Learning in Classification.* IEEE Access 9, 2021.
O. Cappé, E. Moulines. *On-line expectation–maximization algorithm for latent
data models.* JRSS B 71(3), 2009 (the stepwise M step).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Annotators", "Answer", "weighted_vote"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One annotator's answer to a query; ``annotator`` ``None`` is an anonymous one."""

    label: Hashable
    annotator: str | None = None
    cost: float | None = None


def weighted_vote(
    answers: Sequence[Answer],
    weights: Sequence[float],
    prediction: Hashable | None = None,
) -> Hashable:
    """The class with the largest sum of its answerers' weights.

    Ties go to ``prediction`` (the model's) when it is tied, else to the tied
    class answered first.

    >>> answers = [Answer("cat", "ann"), Answer("dog", "bob"), Answer("dog", "cid")]
    >>> weighted_vote(answers, [2.0, 0.8, 0.8])  # 2.0 > 0.8 + 0.8
    'cat'
    >>> weighted_vote(answers, [1.6, 0.8, 0.8])  # 1.6 = 1.6: the first answered
    'cat'
    >>> weighted_vote(answers, [1.6, 0.8, 0.8], prediction="dog")
    'dog'

    """
    scores: dict[Hashable, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        scores[answer.label] = scores.get(answer.label, 0.0) + weight
    best = max(scores.values())
    # Equal sums of the same weights may differ in the last bit: compare with a tolerance.
    tied = [label for label, score in scores.items() if math.isclose(score, best, abs_tol=1e-9)]
    return prediction if prediction in tied else tied[0]


class Annotators:
    """Reliability estimates of the annotators and the rules that use them.

    Parameters
    ----------
    confident
        Ask for one more answer when the answers' vote is right with a
        posterior probability (from the answers alone) below this; 0: never.
    labels_per_query
        How many answers each query gets from the labelers (the example is
        learned once they are in, or once the wait is over).
    wait
        How long, in the events' time unit, answers still expected for a
        query are waited for after its first answer; then the model learns
        what came. 0: not at all.
    prior
        (α₀, β₀) of every annotator's Beta belief in its accuracy.
    memory
        Per labeled example, the factor by which older evidence about the
        model's accuracy is discounted (0.98: about the last 50 examples).
    min_evidence
        Answers about the model needed before it is trusted at all.
    sweeps
        EM iterations that refit an annotator's soft counts at its current
        estimate after each answer; 1: the plain online soft count.

    Examples
    --------

    Bob, never seen, and a model trusted with λ = 1 that gives "a" 0.9:
    ``q = (0.9, 0.1)``; bob's "a" is right with ``π(a) = 0.9·2/3 / (0.9·2/3 +
    0.1·1/3) = 0.947``, so his Beta(2, 1) becomes Beta(2.947, 1.053) with one
    soft count; refit at its fixed point (the default) his ``r`` is 0.741:

    >>> annotators = Annotators(sweeps=1)
    >>> # 20 answers of newcomers (r = 2/3, e = 1/3), 63.3 % agreeing: m = 0.3 / (1/3) = 0.9 = c̄
    >>> annotators.model_stats = [20.0, 20 * 0.3, 20 / 3, 20 * 0.9]
    >>> round(annotators.trust(2), 3)
    1.0
    >>> annotators.observe([Answer("a", "bob")], y_pred="a", confidence=0.9, y="a", classes="ab")
    >>> [round(c, 3) for c in annotators.counts["bob"]]
    [2.947, 1.053]
    >>> refit = Annotators()
    >>> refit.model_stats = [20.0, 20 * 0.3, 20 / 3, 20 * 0.9]
    >>> refit.observe([Answer("a", "bob")], y_pred="a", confidence=0.9, y="a", classes="ab")
    >>> round(refit.accuracy("bob"), 3)
    0.741

    """

    def __init__(
        self,
        confident: float = 0.75,
        labels_per_query: int = 1,
        wait: float = 0.0,
        prior: tuple[float, float] = (2.0, 1.0),
        memory: float = 0.98,
        min_evidence: float = 10.0,
        sweeps: int = 50,
    ) -> None:
        if not (prior[0] > 0 and prior[1] > 0):
            raise ValueError(f"the Beta prior needs two positive counts, got {prior!r}")
        if labels_per_query < 1:
            raise ValueError(f"labels_per_query must be at least 1, got {labels_per_query}")
        if not wait >= 0:
            raise ValueError(f"wait must be zero or positive, got {wait!r}")
        if not 0.0 < memory <= 1.0:
            raise ValueError(f"memory must be in (0, 1], got {memory!r}")
        self.confident = confident
        self.labels_per_query = labels_per_query
        self.wait = wait
        self.prior = prior
        self.memory = memory
        self.min_evidence = min_evidence
        #: ``{annotator: [α, β]}``, in the order first seen
        self.counts: dict[str, list[float]] = {}
        #: discounted sums over answers: weight, Σ(agree − e), Σ(r − e), Σ confidence
        self.model_stats: list[float] = [0.0, 0.0, 0.0, 0.0]
        self.sweeps = sweeps
        #: per annotator: its counts before any evidence, and ``{z bin: answers}``
        self._history: dict[str, tuple[list[float], dict[int, int]]] = {}

    def __setstate__(self, state: dict) -> None:
        # Snapshots written before the tempered model prior lack its state.
        self.__dict__.update(
            memory=0.98, min_evidence=10.0, model_stats=[0.0, 0.0, 0.0, 0.0], sweeps=50, _history={}
        )
        self.__dict__.update(state)

    def accuracy(self, annotator: str | None) -> float:
        """The posterior mean of the annotator's accuracy (the prior's for one never seen)."""
        alpha, beta = self.counts.get(annotator, self.prior) if annotator else self.prior
        return alpha / (alpha + beta)

    def witness(self, annotator: str | None, n_classes: int) -> float:
        """The accuracy an answer of this annotator is read with: never below chance, ``1/C``.

        An estimate below chance would read the answer as evidence against its
        own class. It is not a finding: it is where online EM's label-switched
        solution starts, when a newcomer's first answers disagree with others
        by bad luck. Read so, the answer then agreeing with the others pushes
        them down too, the model's measured accuracy (corrected by ``r − e``)
        swells, and the flipped estimates hold each other up: on SEA with an
        abrupt drift, one seed in twenty ended with every annotator near 0.1
        and the learned labels 55 % right. At chance an answer says nothing;
        its own estimate still moves with the evidence.

        >>> annotators = Annotators()
        >>> annotators.counts["eve"] = [1.0, 3.0]  # r = 0.25
        >>> annotators.accuracy("eve"), annotators.witness("eve", 2), annotators.weight("eve", 2)
        (0.25, 0.5, 0.0)

        """
        return max(self.accuracy(annotator), 1.0 / max(n_classes, 2))

    def weight(self, annotator: str | None, n_classes: int) -> float:
        """``log(r (C − 1) / (1 − r))``: the log-odds an answer of this annotator adds.

        ``r`` is its :meth:`witness` accuracy, so no answer counts against its class.

        >>> round(Annotators().weight("new", n_classes=2), 4)  # log(2/3 / (1/3)) = log 2
        0.6931

        """
        r = self.witness(annotator, n_classes)
        return math.log(r * (max(n_classes, 2) - 1) / (1.0 - r))

    def model_accuracy(self) -> float | None:
        """The model's measured accuracy on the labeled queries, corrected for noisy answers."""
        n, agree, spread, _ = self.model_stats
        if n < self.min_evidence or spread <= 0:
            return None
        return min(1.0, max(0.0, agree / spread))

    def trust(self, n_classes: int) -> float:
        """λ: the weight of the model's row against the uniform one (0 until measured).

        Above 1 when the model is less sure of itself than it measures: its row is sharpened.
        """
        m = self.model_accuracy()
        if m is None:
            return 0.0
        chance = 1.0 / max(n_classes, 2)
        reported = self.model_stats[3] / self.model_stats[0]
        if reported <= chance:
            return 0.0
        return min(_MAX_TRUST, max(0.0, (m - chance) / (reported - chance)))

    def prior_row(
        self, y_pred: Hashable | None, confidence: float | None, classes: Sequence[Hashable]
    ) -> dict[Hashable, float]:
        """``q``: the model's row at query time, tempered toward uniform by :meth:`trust`."""
        n = max(len(classes), 2)
        lam = self.trust(n) if y_pred is not None and confidence is not None else 0.0
        row = {k: 1.0 / n for k in classes}
        if lam > 0:
            rest = (1.0 - confidence) / (n - 1)
            for k in classes:
                mixed = lam * (confidence if k == y_pred else rest) + (1.0 - lam) / n
                row[k] = min(max(mixed, _FLOOR / n), 1.0 - _FLOOR / n)  # λ > 1 may overshoot
            total = sum(row.values())
            row = {k: v / total for k, v in row.items()}
        return row

    def posterior(
        self, answers: Sequence[Answer], prior: dict[Hashable, float]
    ) -> dict[Hashable, float]:
        """``π(k) ∝ q(k) Π_j L_j(k)``: the true class given the answers and the prior row."""
        n = max(len(prior), 2)
        logp = {k: math.log(max(p, 1e-12)) for k, p in prior.items()}
        for answer in answers:
            r = self.witness(answer.annotator, n)
            right, wrong = math.log(r), math.log((1.0 - r) / (n - 1))
            for k in logp:
                logp[k] += right if k == answer.label else wrong
        top = max(logp.values())
        odds = {k: math.exp(v - top) for k, v in logp.items()}
        total = sum(odds.values())
        return {k: v / total for k, v in odds.items()}

    @staticmethod
    def _classes(
        answers: Sequence[Answer], y_pred: Hashable | None, classes: Iterable[Hashable]
    ) -> list[Hashable]:
        extra = [a.label for a in answers] + ([] if y_pred is None else [y_pred])
        return list(dict.fromkeys([*classes, *extra]))

    def aggregate(
        self,
        answers: Sequence[Answer],
        classes: Iterable[Hashable],
        y_pred: Hashable | None,
        confidence: float | None = None,
    ) -> Hashable:
        """The reliability-weighted vote of ``answers`` (``classes``: those the model knows).

        Ties go to the model's prediction only while it is trusted (λ > 0).
        """
        everything = self._classes(answers, y_pred, classes)
        n_classes = len(everything)
        weights = [self.weight(a.annotator, n_classes) for a in answers]
        trusted = y_pred is not None and self.trust(n_classes) > 0
        return weighted_vote(answers, weights, y_pred if trusted else None)

    def second_label(
        self,
        answers: Sequence[Answer],
        y_pred: Hashable | None = None,
        confidence: float | None = None,
        classes: Iterable[Hashable] = (),
    ) -> bool:
        """Whether to ask once more: the answers' vote is less than ``confident`` sure.

        The certainty is the posterior of the vote from the answers alone,
        ``π(vote)`` with a uniform ``q``: the model is deliberately left out
        (see the module's docstring). ``y_pred`` and ``confidence`` only
        name the classes.

        >>> annotators = Annotators(confident=0.75)
        >>> annotators.counts["carol"] = [3.0, 2.0]  # r = 0.6
        >>> annotators.counts["alice"] = [19.0, 1.0]  # r = 0.95
        >>> annotators.second_label([Answer("b", "carol")], "a", 0.9, "ab")  # 0.6 < 0.75
        True
        >>> annotators.second_label([Answer("a", "alice")], "a", 0.9, "ab")  # 0.95
        False
        >>> # carol and alice agree: π(b) = 0.6·0.95 / (0.6·0.95 + 0.4·0.05) = 0.966
        >>> annotators.second_label([Answer("b", "carol"), Answer("b", "alice")], "a", 0.9, "ab")
        False

        """
        everything = self._classes(answers, y_pred, classes)
        vote = self.aggregate(answers, everything, None)
        flat = {k: 1.0 / len(everything) for k in everything}
        return self.posterior(answers, flat)[vote] < self.confident

    def observe(
        self,
        answers: Sequence[Answer],
        y_pred: Hashable | None,
        confidence: float | None,
        y: Hashable,
        classes: Iterable[Hashable] = (),
    ) -> None:
        """Update the estimates from one learned example (the rules are in the module's docstring).

        ``y`` is the label learned; ``classes`` those the model knew.
        """
        if not answers:
            return
        everything = self._classes(answers, y_pred, [*classes, y])
        n_classes = max(len(everything), 2)
        q = self.prior_row(y_pred, confidence, everything)
        witnessed = len(answers) > 1 or len(set(q.values())) > 1
        if y_pred is not None and confidence is not None:
            stats = self.model_stats
            stats[:] = [s * self.memory for s in stats]
            for answer in answers:
                r = self.witness(answer.annotator, n_classes)
                chance = (1.0 - r) / (n_classes - 1)
                stats[0] += 1.0
                stats[1] += (answer.label == y_pred) - chance
                stats[2] += r - chance
                stats[3] += confidence
        if not witnessed:
            return  # one answer and no trusted model: t = r, no evidence
        evidence = []  # all on the estimates before this example, then learned
        for i, answer in enumerate(answers):
            if answer.annotator is not None:
                # The other evidence for its answer: z = log(a (C − 1) / (1 − a)), a = π without
                # it; then π(l_j) = σ(z + logit r_j).
                others = self.posterior([*answers[:i], *answers[i + 1 :]], q)
                a = min(max(others[answer.label], 1e-12), 1.0 - 1e-12)
                evidence.append((answer.annotator, math.log(a * (n_classes - 1) / (1.0 - a))))
        for annotator, z in evidence:
            self._learn(annotator, z)

    def _learn(self, annotator: str, z: float) -> None:
        """Add one answer's evidence and refit ``r`` (the soft counts at their fixed point)."""
        base, bins = self._history.setdefault(
            annotator, (list(self.counts.get(annotator, self.prior)), {})
        )
        b = round(min(max(z, -_Z_MAX), _Z_MAX) / _Z_STEP)
        bins[b] = bins.get(b, 0) + 1
        n = base[0] + base[1] + sum(bins.values())
        r = self.accuracy(annotator)
        for _ in range(self.sweeps):
            alpha = base[0] + sum(k * _soft(r, b * _Z_STEP) for b, k in bins.items())
            r, previous = alpha / n, r
            if abs(r - previous) < 1e-9:
                break
        self.counts[annotator] = [alpha, n - alpha]


#: at most this weight for the model's row (sharpening an underconfident model), and the
#: least probability a tempered row gives a class (times 1/C)
_MAX_TRUST = 10.0
_FLOOR = 0.02

#: the other evidence of an answer is kept to a grid of log-odds (tiny error, bounded memory)
_Z_STEP = 1 / 16
_Z_MAX = 16.0


def _soft(r: float, z: float) -> float:
    """``t = σ(z + logit r)``: the posterior that an answer is right, from its prior ``r``."""
    return 1.0 / (1.0 + math.exp(-(z + math.log(r / (1.0 - r)))))
