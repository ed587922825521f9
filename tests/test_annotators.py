"""Several annotators: reliability and weighted votes worked by hand, and the engine using them."""

from __future__ import annotations

import math

import pytest

from streamal.annotators import Annotators, Answer
from streamal.cost_budget import AnswerBudget, CostBudget
from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, LabelOutcome
from streamal.metrics import BoundedNames
from streamal.settings import EngineSettings, build_engine


def trusted(annotators: Annotators, m: float, reported: float, n: float = 20.0) -> None:
    """Evidence of ``n`` newcomers' answers (r = 2/3, e = 1/3) putting the model at accuracy m."""
    annotators.model_stats = [n, n * m / 3, n / 3, n * reported]


def test_one_coin_dawid_skene_update_by_hand():
    annotators = Annotators(sweeps=1)  # prior Beta(2, 1); one soft count, no refit
    trusted(annotators, m=0.8, reported=0.9)
    # λ = (m − 1/2) / (c̄ − 1/2) = 0.3 / 0.4 = 0.75. The model said "a" with 0.9:
    # q(a) = 0.75·0.9 + 0.25·0.5 = 0.8, q(b) = 0.2.
    assert annotators.model_accuracy() == pytest.approx(0.8)
    assert annotators.trust(2) == pytest.approx(0.75)
    assert annotators.prior_row("a", 0.9, ["a", "b"]) == pytest.approx({"a": 0.8, "b": 0.2})
    annotators.counts["alice"] = [9.0, 1.0]  # r = 0.9
    answers = [Answer("b", "alice"), Answer("a", "bob")]  # bob new: r = 2/3
    # π(a) ∝ 0.8 · 0.1 · 2/3 = 0.05333 (alice wrong, bob right)
    # π(b) ∝ 0.2 · 0.9 · 1/3 = 0.06     (alice right, bob wrong)
    # π(b) = 0.06 / 0.11333 = 9/17 = 0.529: alice's soft count, bob's is 8/17.
    posterior = annotators.posterior(answers, annotators.prior_row("a", 0.9, ["a", "b"]))
    assert posterior == pytest.approx({"a": 8 / 17, "b": 9 / 17})
    # The training label is the answers' vote: alice log 9 = 2.20 beats bob log 2 = 0.69;
    # the model's "a" does not outvote her.
    assert annotators.aggregate(answers, ["a", "b"], y_pred="a", confidence=0.9) == "b"
    refit = Annotators()  # the same, refitting the soft counts at their fixed point
    refit.model_stats, refit.counts["alice"] = list(annotators.model_stats), [9.0, 1.0]
    annotators.observe(answers, y_pred="a", confidence=0.9, y="b", classes=["a", "b"])
    # (the other evidence is kept on a grid of 1/16 in log-odds: within 0.01)
    assert annotators.counts["alice"] == pytest.approx([9 + 9 / 17, 1 + 8 / 17], abs=0.01)
    assert annotators.counts["bob"] == pytest.approx([2 + 8 / 17, 1 + 9 / 17], abs=0.01)
    # Refit: alice's other evidence is bob's "a" against q: a = π(b) without her
    # = 0.2·1/3 / (0.2·1/3 + 0.8·2/3) = 1/9, z = logit(1/9) = −2.08, and her estimate r
    # solves r = (9 + σ(z + logit r)) / 11: r = 6/7 = 0.857, below the one-step 9.53/11 = 0.866,
    # because at r = 0.856 her answer against the model is less likely right.
    refit.observe(answers, y_pred="a", confidence=0.9, y="b", classes=["a", "b"])
    r = refit.accuracy("alice")
    assert r == pytest.approx(
        (9 + 1 / (1 + math.exp(2.08 - math.log(r / (1 - r))))) / 11, abs=0.002
    )
    assert r == pytest.approx(6 / 7, abs=0.002) and sum(refit.counts["alice"]) == pytest.approx(11)
    # The model's evidence, discounted by 0.98, gains alice's disagreement (r 0.9, e 0.1:
    # 0 − 0.1 over 0.9 − 0.1) and bob's agreement (1 − 1/3 over 2/3 − 1/3):
    # m = (0.98·16/3 + 0.5667) / (0.98·20/3 + 1.1333) = 5.7933 / 7.6667 = 0.7557.
    assert annotators.model_accuracy() == pytest.approx(5.79333 / 7.66667, abs=1e-4)
    # One answer and an untrusted model (no evidence yet): nothing to count.
    fresh = Annotators()
    fresh.observe([Answer("a", "carol")], y_pred="b", confidence=0.99, y="a", classes="ab")
    assert fresh.counts == {} and fresh.trust(2) == 0.0
    # An overconfident model: reports 0.99, measures 0.6: λ = 0.1 / 0.49 = 0.204.
    trusted(fresh, m=0.6, reported=0.99)
    assert fresh.trust(2) == pytest.approx(0.1 / 0.49)
    # Weights, two classes: log(r / (1 - r)); three classes: log(r · 2 / (1 - r)).
    assert annotators.weight("newcomer", 2) == pytest.approx(math.log(2))
    assert annotators.weight("newcomer", 3) == pytest.approx(math.log(4))


def test_weighted_vote_by_hand():
    annotators = Annotators()
    annotators.counts["alice"] = [3.0, 1.0]  # r = 3/4
    x, y = Answer("x", "alice"), Answer("y", "new1")
    # Two classes: x gets log 3 = 1.10, y one newcomer log 2 = 0.69: x.
    assert annotators.aggregate([x, y], ["x", "y"], y_pred=None) == "x"
    # Two newcomers on y: 2 log 2 = log 4 = 1.39 > log 3: y.
    assert annotators.aggregate([x, y, Answer("y", "new2")], ["x", "y"], None) == "y"
    # Three classes: x log 6 = 1.79 against 2 log 4 = 2.77: still y.
    assert annotators.aggregate([x, y, Answer("y", "new2")], ["x", "y", "z"], None) == "y"
    # One newcomer each way: a tie, the first answered while the model is not trusted...
    a, b = Answer("x", "new1"), Answer("y", "new2")
    assert annotators.aggregate([a, b], ["x", "y"], y_pred="y") == "x"
    assert annotators.aggregate([b, a], ["x", "y"], y_pred=None) == "y"
    # ... and the model's prediction once its measured accuracy says it is better than chance.
    trusted(annotators, m=0.8, reported=0.9)
    assert annotators.aggregate([a, b], ["x", "y"], y_pred="y") == "y"
    assert annotators.aggregate([a, b], ["x", "y"], y_pred="z") == "x"


def test_cost_budget_counts_unknown_costs_as_one_and_releases_cancelled_answers():
    budget = CostBudget(per_event=0.25)
    budget.see(8)  # 2 units
    assert budget.ask("a", answers=2) and not budget.ask("b")
    budget.pay("a", None)  # unknown: 1
    budget.cancel("a")  # the second answer will not come
    assert (budget.paid, budget.awaited, budget.spent) == (1.0, 0, 1.0)
    assert budget.ask("b") and not budget.ask("c")
    assert CostBudget(per_event=0.3, expected_cost=0.5).label_fraction == 0.6
    assert CostBudget(per_event=2.0).label_fraction == 1.0


def test_bounded_names_restart_with_the_names_already_seen():
    names = BoundedNames(limit=2, seen=["bob"])
    assert [names(n) for n in ("alice", "carol", "bob")] == ["alice", "other", "bob"]
    assert names.tracked == ["bob", "alice"]


# -- in the engine ------------------------------------------------------------------------


def confident_engine(**annotator_options) -> Engine:
    """An engine whose model is sure that x near 0 is 'low' and x near 10 is 'high'."""
    engine = Engine("naive_bayes.GaussianNB()", Decider("random", 1.0, seed=1))
    values = {"t0": (0.0, "low"), "t1": (0.6, "low"), "t2": (10.0, "high"), "t3": (10.4, "high")}
    engine.process([Event(i, {"x": x}, ts=0.0) for i, (x, _) in values.items()])
    engine.answer([Label(i, y, ts=1.0) for i, (_, y) in values.items()])
    assert engine.model.version == 4
    engine.annotators = Annotators(**annotator_options)
    return engine


def test_two_answers_for_one_id_are_learned_once_with_their_aggregate():
    engine = confident_engine(labels_per_query=3, wait=100.0, confident=0.5, sweeps=1)
    engine.annotators.counts["carol"] = [9.0, 1.0]  # r = 0.9: weight log 9 = 2.2
    out = engine.process([Event("q", {"x": 5.0}, ts=2.0)])
    assert [q.id for q in out.queries] == ["q"]
    first = engine.answer([Label("q", "low", ts=3.0, annotator="alice")])
    assert first.examples == [] and "q" in engine.waiting
    joined = engine.answer(
        [
            Label("q", "high", ts=4.0, annotator="carol", cost=2.0),
            Label("q", "low", ts=5.0, annotator="bob"),
            Label("q", "low", ts=6.0, annotator="dave"),
        ]
    )
    # alice and bob (log 2 each, 1.39) lose to carol (2.20); dave's answer comes too late.
    [example] = joined.examples
    assert (example.y, example.annotator, example.label_ts) == ("high", "carol", 5.0)
    assert [a.annotator for a in example.answers] == ["alice", "carol", "bob"]
    assert example.answers[1].cost == 2.0
    assert [(r.label.annotator, r.outcome) for r in joined.rejected] == [
        ("dave", LabelOutcome.DUPLICATE)
    ]
    assert engine.model.version == 5
    # The model is not trusted yet (no evidence): q uniform.
    # π(low) ∝ 2/3 · 0.1 · 2/3 = 0.0444, π(high) ∝ 1/3 · 0.9 · 1/3 = 0.1: π(high) = 9/13
    # (> 0.5: not asked again). One soft count each (sweeps=1):
    counts = engine.annotators.counts
    assert counts["alice"] == pytest.approx([2 + 4 / 13, 1 + 9 / 13], abs=0.01)
    assert counts["bob"] == pytest.approx([2 + 4 / 13, 1 + 9 / 13], abs=0.01)
    assert counts["carol"] == pytest.approx([9 + 9 / 13, 1 + 4 / 13], abs=0.01)


def test_an_unsure_answer_is_asked_again_and_the_model_never_breaks_the_tie():
    engine = confident_engine(wait=50.0)  # second labels below 0.75
    engine.process([Event("q", {"x": 0.3}, ts=10.0)])
    assert engine.pending.status("q") == "pending"
    # alice is new (r = 2/3 < 0.75): asked again, whatever the model says.
    joined = engine.answer([Label("q", "high", ts=11.0, annotator="alice")])
    assert joined.examples == [] and [q.id for q in joined.queries] == ["q"]
    assert joined.queries[0].proba["low"] > 0.9 and engine.asked_again == 1
    # Bob agrees with the model: equal weights, and the untrusted model does not break
    # the tie: alice's answer, the first, is learned.
    joined = engine.answer([Label("q", "low", ts=12.0, annotator="bob")])
    assert [(e.y, e.annotator, len(e.answers)) for e in joined.examples] == [("high", "alice", 2)]
    # π = 1/2 each way: half a success and half a failure each, from 2/3 (one step: 5/8).
    # Each one's other evidence is the other's opposite answer, z = log(1/2), and the refit r
    # solves r = (2 + σ(logit r − log 2)) / 4: 0.610.
    counts = engine.annotators.counts
    assert counts["alice"] == counts["bob"] == pytest.approx([4 * 0.610, 4 * 0.390], abs=0.005)
    # A reliable annotator against the confident model is learned at once, as answered.
    engine.annotators.counts["erin"] = [19.0, 1.0]
    engine.process([Event("r", {"x": 0.2}, ts=13.0)])
    joined = engine.answer([Label("r", "high", ts=14.0, annotator="erin")])
    assert [e.y for e in joined.examples] == ["high"] and not joined.queries


def test_when_the_wait_is_over_the_model_learns_what_came():
    engine = confident_engine(wait=50.0)
    engine.process([Event("q", {"x": 0.3}, ts=10.0)])
    engine.answer([Label("q", "high", ts=11.0, annotator="alice")])
    assert engine.settle(now=59.0) == []
    [example] = engine.settle(now=60.0)
    assert (example.id, example.y, example.annotator) == ("q", "high", "alice")
    assert engine.waiting == {}
    late = engine.join([Label("q", "low", ts=70.0, annotator="bob")])
    assert [r.outcome for r in late.rejected] == [LabelOutcome.DUPLICATE]


def test_the_cost_budget_refuses_queries_it_cannot_pay_for():
    budget = CostBudget(per_event=0.05)
    engine = Engine("naive_bayes.GaussianNB()", Decider("random", 1.0, seed=3), cost_budget=budget)
    events = [Event(f"e{i}", {"x": float(i % 7)}, ts=float(i)) for i in range(400)]
    asked = 0
    for start in range(0, 400, 20):
        out = engine.process(events[start : start + 20])
        assert [q.id for q in out.queries] == [p.id for p in out.predictions if p.queried]
        asked += len(out.queries)
        # Each answer costs 0.5: the expected cost falls and more queries fit.
        engine.answer([Label(q.id, q.x["x"] > 3, ts=q.ts, cost=0.5) for q in out.queries])
        assert budget.spent <= 0.05 * budget.events + 1e-9
    assert budget.events == 400 and budget.paid == 0.5 * asked
    assert 0.05 * 400 / 0.5 - 2 <= asked <= 0.05 * 400 / 0.5 + 1  # about 40 answers of 0.5


def test_an_answer_is_never_read_against_its_own_class():
    """An annotator estimated below chance says nothing: it is not an inverted witness."""
    annotators = Annotators()
    annotators.counts["eve"] = [1.0, 3.0]  # r = 0.25, below chance for two classes
    flat = {"a": 0.5, "b": 0.5}
    # Bob (a newcomer, 2/3) and eve both say "a": only bob's answer counts, π(a) = 2/3
    # (read at 0.25, eve's "a" would have made it 0.25·2/3 / (0.25·2/3 + 0.75·1/3) = 0.4).
    answers = [Answer("a", "eve"), Answer("a", "bob")]
    assert annotators.posterior(answers, flat)["a"] == pytest.approx(2 / 3)
    assert annotators.weight("eve", 2) == 0.0
    # With three classes chance is 1/3: an estimate of 0.4 still counts, a little.
    annotators.counts["eve"] = [2.0, 3.0]
    assert annotators.witness("eve", 3) == 0.4 and annotators.weight("eve", 3) > 0


def test_an_unlucky_start_does_not_flip_the_estimates():
    """Alice, right, contradicted three times by carol and a trusted model that is wrong.

    She falls below chance. Read as an inverted witness, her later answers, each agreeing
    with bob's, counted against bob, the two dragged each other down to 0.11 and 0.12, and
    two agreeing answers "a" made "b" 99 % likely: the label-switched solution of EM.
    """
    annotators = Annotators()
    annotators.model_stats = [20.0, 20 * 0.3, 20 / 3, 20 * 0.9]  # λ = 1, as in the docstring
    for _ in range(3):
        annotators.observe([Answer("a", "alice"), Answer("b", "carol")], "b", 0.9, "a", "ab")
    assert annotators.accuracy("alice") < 0.5
    for _ in range(20):
        annotators.observe([Answer("a", "alice"), Answer("a", "bob")], "b", 0.9, "a", "ab")
    assert annotators.accuracy("alice") > 0.25 and annotators.accuracy("bob") > 0.45
    both = [Answer("a", "alice"), Answer("a", "bob")]
    assert annotators.posterior(both, {"a": 0.5, "b": 0.5})["a"] >= 0.5


def test_the_label_budget_counts_answers_in_annotator_aware_mode():
    """Two answers a query and the re-asks come out of one budget of answers per event."""
    settings = EngineSettings(
        "naive_bayes.GaussianNB()", "random", 0.1, label_wait=100.0, labels_per_query=2, seed=3
    )
    engine = build_engine(settings)
    assert isinstance(engine.cost_budget, AnswerBudget) and engine.decider.budget == 0.05
    events = [Event(f"e{i}", {"x": float(i % 7)}, ts=float(i)) for i in range(2000)]
    answers = 0
    for start in range(0, 2000, 20):
        out = engine.process(events[start : start + 20])
        # Two answers, expensive ones: an answer is one label whatever it costs.
        labels = [
            Label(q.id, q.x["x"] > 3, ts=q.ts, annotator=name, cost=5.0)
            for q in out.queries
            for name in ("ann", "bob")
        ]
        answers += len(labels)
        answers += 2 * len(engine.answer(labels).queries)  # asked again: both answer again
        assert answers <= 0.1 * engine.cost_budget.events + 1e-9
    assert 0.09 * 2000 <= answers <= 0.1 * 2000


def test_picks_a_cost_budget_vetoes_are_given_back_to_the_decider():
    """Dear answers first, cheap ones after: the picks the cost budget vetoes while answers
    are dear are refunded, so the decider counts only the queries that went out, and asks
    again once the budget allows (it had counted the vetoed ones as spent, 200 labels for the
    131 asked, and caught up on none)."""
    settings = EngineSettings("naive_bayes.GaussianNB()", "periodic", 0.1, cost_budget=0.1)
    engine = build_engine(settings)
    events = [Event(f"e{i}", {"x": float(i % 7)}, ts=float(i)) for i in range(2000)]
    asked = 0
    for start in range(0, 2000, 20):
        out = engine.process(events[start : start + 20])
        asked += len(out.queries)
        cost = 3.0 if start < 1000 else 0.5
        engine.answer([Label(q.id, q.x["x"] > 3, ts=q.ts, cost=cost) for q in out.queries])
    assert engine.decider.labels_spent == asked < engine.decider.queries_made
    assert asked > 131
