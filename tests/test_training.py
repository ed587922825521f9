from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, TrainingExample
from streamal.training import TrainingFold


def test_a_label_joined_twice_after_a_crash_is_learned_once():
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0)))
    fold.engine.process([Event("a", {"x": 1.0}, 0.0)])
    first = fold.engine.join([Label("a", "low", 1.0)]).examples
    # The restarted daemon joins the same label again before it has read the log.
    fold.engine.process([Event("a", {"x": 1.0}, 0.0)])
    again = fold.engine.join([Label("a", "low", 1.0)]).examples
    assert [e.id for e in fold.apply(first + again)] == ["a"]
    assert fold.engine.model.version == 1
    assert fold.skipped == 1


def test_reading_the_log_closes_the_pending_query():
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0)))
    fold.engine.process([Event("a", {"x": 1.0}, 0.0)])
    other = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0)))
    other.engine.process([Event("a", {"x": 1.0}, 0.0)])
    examples = other.engine.join([Label("a", "low", 1.0)]).examples
    fold.apply(examples)
    late = fold.engine.join([Label("a", "low", 2.0)])
    assert [r.outcome.value for r in late.rejected] == ["duplicate"]


def test_an_example_the_model_refuses_is_skipped_alone():
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0)))
    good = TrainingExample("g", {"x": 1.0}, "low", 0.0, 1.0, None)
    bad = TrainingExample("b", {"x": "red"}, "low", 0.0, 1.0, None)
    after = TrainingExample("a", {"x": 2.0}, "high", 0.0, 1.0, None)
    assert [e.id for e in fold.apply([good, bad, after])] == ["g", "a"]
    assert fold.failed == 1
    assert fold.engine.model.version == 2


def test_a_label_read_again_for_another_replicas_query_is_a_duplicate():
    # This replica never held the query: it learned the example another one joined.
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0)))
    fold.apply([TrainingExample("a", {"x": 1.0}, "low", 0.0, 1.0, None)])
    again = fold.engine.join([Label("a", "low", 1.0)])
    assert [r.outcome.value for r in again.rejected] == ["duplicate"]
    assert fold.engine.was_queried("a")
