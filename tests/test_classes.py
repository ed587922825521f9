"""Answers are read against the stream's classes: a typed string never becomes a new class."""

from __future__ import annotations

import pytest

from streamal.classes import ClassSchema, UnknownClass, parse_classes
from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, LabelOutcome
from streamal.settings import EngineSettings, build_engine


def _asked(engine: Engine, n: int) -> list[str]:
    events = [Event(f"e{i}", {"a": float(i)}, float(i)) for i in range(n)]
    return [q.id for q in engine.process(events).queries]


def test_string_answers_on_a_boolean_stream_keep_two_classes():
    engine = Engine("naive_bayes.GaussianNB()", Decider("random", 1.0))
    ids = _asked(engine, 6)
    answers = [False, "false", "False", "TRUE", 1, "0"]
    joined = engine.answer([Label(i, a, 9.0) for i, a in zip(ids, answers, strict=True)])
    assert [e.y for e in joined.examples] == [False, False, False, True, True, False]
    assert engine.model.classes == [False, True]
    assert engine.schema.kind == "bool"


def test_integer_stream_reads_numeric_strings_and_refuses_others():
    engine = Engine("naive_bayes.GaussianNB()", Decider("random", 1.0))
    ids = _asked(engine, 4)
    answers = [3, "3", " 7.0", "three"]
    joined = engine.answer([Label(i, a, 1.0) for i, a in zip(ids, answers, strict=True)])
    assert [e.y for e in joined.examples] == [3, 3, 7]
    (refused,) = joined.rejected
    assert refused.outcome is LabelOutcome.UNKNOWN_CLASS
    assert refused.detail == "'three' is not an integer class"
    # The query still waits for a right answer.
    assert [e.y for e in engine.answer([Label(ids[3], "4", 2.0)]).examples] == [4]


def test_fixed_classes_refuse_an_unknown_answer_and_match_case():
    engine = build_engine(EngineSettings("naive_bayes.GaussianNB()", "random", 1.0,
                                         classes=("spam", "ham")))  # fmt: skip
    ids = _asked(engine, 3)
    joined = engine.answer(
        [Label(ids[0], " Spam", 1.0), Label(ids[1], "eggs", 1.0), Label(ids[2], "ham", 1.0)]
    )
    assert [(e.id, e.y) for e in joined.examples] == [(ids[0], "spam"), (ids[2], "ham")]
    assert [(r.label.id, r.outcome.value) for r in joined.rejected] == [(ids[1], "unknown_class")]
    assert engine.model.classes == ["spam", "ham"]


def test_queries_carry_the_known_classes():
    engine = build_engine(EngineSettings("naive_bayes.GaussianNB()", "random", 1.0,
                                         classes=(True, False)))  # fmt: skip
    (query, *_) = engine.process([Event("a", {"a": 1.0}, 0.0)]).queries
    assert query.classes == (True, False)


def test_an_unknown_id_teaches_the_schema_nothing():
    engine = Engine("naive_bayes.GaussianNB()", Decider("random", 1.0))
    joined = engine.answer([Label("never-asked", "true", 1.0)])
    assert joined.rejected[0].outcome is LabelOutcome.UNKNOWN
    assert engine.schema.kind is None and engine.schema.classes == []


@pytest.mark.parametrize(
    ("text", "classes"),
    [("true,false", (True, False)), ("1,0", (1, 0)), ("yes,no", ("yes", "no")),
     ("a, b", ("a", "b"))],
)  # fmt: skip
def test_classes_flag_types_the_whole_list(text, classes):
    assert parse_classes(text) == classes
    assert [type(c) for c in parse_classes(text)] == [type(c) for c in classes]


def test_a_str_schema_with_two_case_variants_refuses_the_ambiguous_answer():
    schema = ClassSchema(["Yes", "yes"], fixed=True)
    assert schema.read("yes") == "yes"
    with pytest.raises(UnknownClass):
        schema.read("YES")
