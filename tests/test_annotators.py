"""Several annotators: reliability and weighted votes worked by hand, and the engine using them."""

from __future__ import annotations

import math

import pytest

from streamal.annotators import Annotators, Answer, BoundedNames, CostBudget
from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, LabelOutcome


def test_reliability_update_by_hand():
    annotators = Annotators(confident=0.9)  # prior Beta(2, 1)
    annotators.counts["eve"] = [5.0, 1.0]  # r = 5/6: weight log 5 = 1.61
    # Three answers: each is scored against the weighted vote of the two others.
    # alice: eve's "a" (1.61) beats bob's "b" (log 2 = 0.69), alice's "a" succeeds;
    # bob: alice's and eve's "a" win, bob's "b" fails; eve: alice "a" and bob "b" tie
    # at log 2 each, no evidence.
    three = [Answer("a", "alice"), Answer("b", "bob"), Answer("a", "eve")]
    annotators.observe(three, y_pred="b", confidence=0.5, y="a")
    # One answer, confident model: scored against the model's prediction.
    annotators.observe([Answer("a", "carol")], y_pred="b", confidence=0.95, y="a")
    annotators.observe([Answer("b", "carol")], y_pred="b", confidence=0.9, y="b")
    # One answer, unsure model, or no name: no evidence.
    annotators.observe([Answer("a", "dave")], y_pred="b", confidence=0.89, y="a")
    annotators.observe([Answer("a", None)], y_pred="b", confidence=0.99, y="a")
    # alice (2+1, 1) = 3/4; bob (2, 1+1) = 1/2; carol (2+1, 1+1) = 3/5; dave the prior 2/3.
    assert annotators.counts == {
        "eve": [5.0, 1.0],
        "alice": [3.0, 1.0],
        "bob": [2.0, 2.0],
        "carol": [3.0, 2.0],
    }
    assert annotators.accuracy("alice") == 0.75
    assert annotators.accuracy("bob") == 0.5
    assert annotators.accuracy("carol") == 0.6
    assert annotators.accuracy("dave") == pytest.approx(2 / 3)
    # Weights, two classes: log(r / (1 - r)). alice log 3, bob log 1 = 0, carol log 1.5.
    assert annotators.weight("alice", 2) == pytest.approx(math.log(3))
    assert annotators.weight("bob", 2) == 0.0
    assert annotators.weight("carol", 2) == pytest.approx(math.log(1.5))
    # Three classes: log(r · 2 / (1 - r)). alice log 6, a newcomer log 4.
    assert annotators.weight("alice", 3) == pytest.approx(math.log(6))
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
    # One newcomer each way: a tie, broken by the model's prediction, else the first answered.
    a, b = Answer("x", "new1"), Answer("y", "new2")
    assert annotators.aggregate([a, b], ["x", "y"], y_pred="y") == "y"
    assert annotators.aggregate([a, b], ["x", "y"], y_pred="z") == "x"
    assert annotators.aggregate([b, a], ["x", "y"], y_pred=None) == "y"


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
    engine.annotators = Annotators(confident=0.9, **annotator_options)
    return engine


def test_two_answers_for_one_id_are_learned_once_with_their_aggregate():
    engine = confident_engine(labels_per_query=3, wait=100.0)
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
    # Learning it scored each against the two others: alice's and bob's "low" lose to
    # carol's "high" (2.20 > 0.69); carol's "high" loses to their "low" (1.39 > 0): all fail.
    counts = engine.annotators.counts
    assert (counts["alice"], counts["bob"], counts["carol"]) == ([2, 2], [2, 2], [9, 2])


def test_an_answer_against_a_confident_model_is_asked_again_then_aggregated():
    engine = confident_engine(wait=50.0)
    engine.process([Event("q", {"x": 0.3}, ts=10.0)])
    assert engine.pending.status("q") == "pending"
    joined = engine.answer([Label("q", "high", ts=11.0, annotator="alice")])
    assert joined.examples == [] and [q.id for q in joined.queries] == ["q"]
    assert joined.queries[0].proba["low"] > 0.9 and engine.asked_again == 1
    # Bob agrees with the model: equal weights, so the model's prediction breaks the tie.
    joined = engine.answer([Label("q", "low", ts=12.0, annotator="bob")])
    assert [(e.y, e.annotator, len(e.answers)) for e in joined.examples] == [("low", "bob", 2)]
    # Two answers that disagree: each is scored against the other, both fail.
    assert engine.annotators.counts == {"alice": [2, 2], "bob": [2, 2]}
    # An answer that agrees with the confident model is learned at once.
    engine.process([Event("r", {"x": 10.1}, ts=13.0)])
    joined = engine.answer([Label("r", "high", ts=14.0, annotator="alice")])
    assert [e.y for e in joined.examples] == ["high"] and not joined.queries
    assert engine.annotators.counts["alice"] == [3, 2]


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
