"""The model-spec parser builds river estimators and refuses everything else."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from river import base, compose, linear_model, naive_bayes, tree

from streamal.model import (
    DEFAULT_MODEL,
    MAX_CLASS_WEIGHT,
    Model,
    ModelRefused,
    ModelSpecError,
    parse_model_spec,
)


def test_pipeline_with_literal_arguments():
    model = parse_model_spec(
        "preprocessing.StandardScaler() | linear_model.LogisticRegression(l2=0.001)"
    )
    assert isinstance(model, compose.Pipeline)
    assert isinstance(model["LogisticRegression"], linear_model.LogisticRegression)
    assert model["LogisticRegression"].l2 == 0.001


def test_nested_estimators_unions_and_type_names():
    model = parse_model_spec(
        "(compose.SelectType(int, float) | preprocessing.StandardScaler())"
        " + (compose.SelectType(str) | preprocessing.OneHotEncoder())"
        " | multiclass.OneVsRestClassifier(linear_model.LogisticRegression())"
    )
    model.learn_one({"a": 1.0, "c": "red"}, "x")
    model.learn_one({"a": 3.0, "c": "blue"}, "y")
    assert set(model.predict_proba_one({"a": 1.0, "c": "red"})) == {"x", "y"}


def test_bare_class_and_river_prefix():
    assert isinstance(parse_model_spec("river.naive_bayes.GaussianNB"), naive_bayes.GaussianNB)
    assert isinstance(parse_model_spec(DEFAULT_MODEL), tree.HoeffdingAdaptiveTreeClassifier)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("__import__('os').system('echo pwned')", "river name"),
        ("os.system('true')", "river has no module 'os'"),
        ("linear_model.LogisticRegression(l2=__import__('os'))", "not a public river name"),
        ("linear_model.LogisticRegression(l2=x)", "not a literal"),
        ("linear_model.LogisticRegression(l2=open('/etc/passwd'))", "river name"),
        ("linear_model.LogisticRegression(l2=(lambda: 1)())", "river name"),
        ("linear_model._base.GLM()", "not a public river name"),
        ("linear_model.LogisticRegression.__init__.__globals__", "not a public river name"),
        ("tree.NoSuchTree()", "has no estimator 'NoSuchTree'"),
        ("linear_model.LogisticRegression(nonsense=1)", "LogisticRegression has no argument"),
        (
            "tree.HoeffdingTreeClassifier(gracе_period=200)",  # a Cyrillic е
            "tree.HoeffdingTreeClassifier has no argument 'grac\\u0435_period'; "
            "did you mean 'grace_period'? (it takes: grace_period, max_depth,",
        ),
        (
            "tree.HoeffdingTreeClassifier(grace_period='x')",
            "tree.HoeffdingTreeClassifier: grace_period takes int, not str ('x')",
        ),
        ("tree.HoeffdingTreeClassifier(binary_split=1)", "binary_split takes bool, not int"),
        ("tree.HoeffdingTreeClassifier(max_depth='5')", "max_depth takes None or int, not str"),
        ("linear_model.LogisticRegression(l2=True)", "l2 takes float, not bool"),
        ("ensemble.BaggingClassifier(n_models=3)", "missing a required argument: 'model'"),
        ("naive_bayes.GaussianNB(1)", "naive_bayes.GaussianNB: too many positional arguments"),
        ("linear_model.LogisticRegression(**{'l2': 1})", "**kwargs"),
        ("linear_model.LogisticRegression(", "not valid syntax"),
        ("[linear_model.LogisticRegression()]", "unsupported syntax"),
        ("preprocessing.StandardScaler()", "does not end in a river classifier or regressor"),
        ("cluster.KMeans()", "does not end in a river classifier or regressor"),
        ("datasets.Phishing()", "does not end in a river classifier or regressor"),
    ],
)
def test_refuses_anything_but_river_names_and_literals(spec, message):
    with pytest.raises(ModelSpecError, match=re.escape(message)):
        parse_model_spec(spec)


def test_arguments_of_the_types_the_signature_allows_are_accepted():
    model = parse_model_spec(
        "forest.ARFClassifier(max_features=3, n_models=2, seed=None)"  # bool | str | int
    )
    assert model.max_features == 3 and model.seed is None
    # A number stands for a number: an int where a float is expected, 1e3 for an int.
    model = parse_model_spec("tree.HoeffdingTreeClassifier(grace_period=1e3, delta=0)")
    assert (model.grace_period, model.delta) == (1000.0, 0)
    # Annotated with a river class as well: a literal is left to the class.
    model = parse_model_spec(
        "linear_model.LogisticRegression(intercept_lr=optim.schedulers.Constant(0.1))"
    )
    assert model.intercept_lr.learning_rate == 0.1


def test_model_columns_keep_first_seen_order():
    model = Model("naive_bayes.GaussianNB()")
    assert model.predict_proba([{"a": 1.0}]).shape == (1, 0)
    assert model.predict(np.zeros((1, 0))) == [None]
    model.learn(
        [{"a": v} for v in (0.0, 10.0, 5.0, 0.5, 10.5, 5.5)], ["b", "a", "c", "b", "a", "c"]
    )
    proba = model.predict_proba([{"a": 0.1}, {"a": 9.9}])
    assert model.classes == ["b", "a", "c"]
    assert model.predict(proba) == ["b", "a"]
    assert proba.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_mini_batch_models_predict_many_like_one():
    model = Model("preprocessing.StandardScaler() | linear_model.LogisticRegression()")
    assert model.mini_batch
    rng = np.random.default_rng(0)
    xs = [{"a": float(v), "b": float(w)} for v, w in rng.normal(size=(50, 2))]
    model.learn(xs, [x["a"] > 0 for x in xs])
    many = model.predict_proba(xs * 11)[:5]  # enough rows for the frame path
    one = np.array(
        [[model.estimator.predict_proba_one(x)[c] for c in model.classes] for x in xs[:5]]
    )
    assert many == pytest.approx(one)
    assert not Model("tree.HoeffdingTreeClassifier()").mini_batch


def test_mini_batch_model_predicts_events_missing_a_feature_as_one_by_one():
    model = Model("preprocessing.StandardScaler() | linear_model.LogisticRegression()")
    rng = np.random.default_rng(1)
    xs = [{"a": float(v), "b": float(w)} for v, w in rng.normal(size=(600, 2))]
    model.learn(xs[:100], [x["a"] > 0 for x in xs[:100]])
    for x in xs[::7]:
        del x["b"]
    assert model.predict_proba(xs) == pytest.approx(_one_by_one(model, xs))


def _one_by_one(model: Model, xs: list[dict]) -> np.ndarray:
    return np.array([[model.estimator.predict_proba_one(x)[c] for c in model.classes] for x in xs])


def test_mini_batch_model_predicts_string_features_through_a_frame_like_one_by_one():
    model = Model(
        "(compose.Select('a') | preprocessing.StandardScaler())"
        " + (compose.Select('c') | preprocessing.OneHotEncoder())"
        " | linear_model.LogisticRegression()"
    )
    rng = np.random.default_rng(2)
    xs = [{"a": float(v), "c": "red" if v > 0 else "blue"} for v in rng.normal(size=600)]
    model.learn(xs[:100], [x["a"] > 0.3 for x in xs[:100]])
    assert Model._frame(xs) is not None
    assert model.predict_proba(xs) == pytest.approx(_one_by_one(model, xs))


def test_mini_batch_model_predicts_events_of_other_features_as_one_by_one():
    model = Model("preprocessing.StandardScaler() | linear_model.LogisticRegression()")
    rng = np.random.default_rng(3)
    xs = [{"a": float(v), "b": float(w)} for v, w in rng.normal(size=(600, 2))]
    model.learn(xs[:100], [x["a"] > 0 for x in xs[:100]])
    xs[300] = {"a": xs[300]["a"], "c": 1.0}  # as many features as the others, not the same
    assert Model._frame(xs) is None
    assert model.predict_proba(xs) == pytest.approx(_one_by_one(model, xs))


def test_mini_batch_model_with_non_string_feature_names_predicts_one_by_one():
    # river's synthetic streams name features 0, 1, …; river's frames want strings.
    model = Model("preprocessing.StandardScaler() | linear_model.LogisticRegression()")
    xs = [{0: float(i % 5), 1: float(i % 3)} for i in range(40)]
    model.learn(xs, [x[0] > 2 for x in xs])
    proba = model.predict_proba(xs[:4])
    assert proba.shape == (4, 2)
    assert proba.sum(axis=1) == pytest.approx([1.0] * 4)


class _WeightRecorder(base.Classifier):
    """A classifier that predicts nothing and notes the weight of each example it learns."""

    def __init__(self) -> None:
        self.weights: list[float] = []

    def learn_one(self, x: dict, y, w: float = 1.0) -> None:
        self.weights.append(w)

    def predict_proba_one(self, x: dict) -> dict:
        return {}


def test_balanced_class_weight_is_labels_over_classes_times_the_class_labels():
    # Worked by hand, with the labels counted up to and with each one: a, a, a alone weigh
    # 1; then b, the first of two classes among 4 labels: 4 / (2 · 1) = 2; then a, the
    # fourth of 5: 5 / (2 · 4) = 0.625.
    model = Model(_WeightRecorder())
    model.class_weight = "balanced"
    model.learn([{}] * 5, ["a", "a", "a", "b", "a"])
    assert model.estimator.weights == [1.0, 1.0, 1.0, 2.0, 0.625]
    assert model.label_counts == {"a": 4, "b": 1}
    # A class's first label after 200 of another would weigh 201 / 2: held at the cap.
    model = Model(_WeightRecorder())
    model.class_weight = "balanced"
    model.learn([{}] * 201, ["a"] * 200 + ["b"])
    assert model.estimator.weights[-1] == MAX_CLASS_WEIGHT == 50.0
    # Without class weights every example weighs the model's own default, but is counted.
    model = Model(_WeightRecorder())
    model.learn([{}] * 3, ["a", "b", "b"])
    assert model.estimator.weights == [1.0, 1.0, 1.0]
    assert model.label_counts == {"a": 1, "b": 2}


def test_label_counts_survive_a_snapshot_and_old_snapshots_start_them_anew():
    model = Model("tree.HoeffdingTreeClassifier()")
    model.class_weight = "balanced"
    model.learn([{"x": 1.0}, {"x": 2.0}], [True, False])
    restored = pickle.loads(pickle.dumps(model))
    assert (restored.class_weight, restored.label_counts) == ("balanced", {True: 1, False: 1})
    state = dict(model.__dict__)
    del state["class_weight"], state["label_counts"]
    old = Model.__new__(Model)
    old.__setstate__(state)
    assert (old.class_weight, old.label_counts) == ("none", {})


@pytest.mark.parametrize(
    ("spec", "takes"),
    [
        ("tree.HoeffdingAdaptiveTreeClassifier(seed=42)", True),
        ("preprocessing.StandardScaler() | linear_model.LogisticRegression()", True),
        ("naive_bayes.GaussianNB()", False),
        # ARF names no w: it draws its own Poisson weight and drops any other.
        ("forest.ARFClassifier(seed=1)", False),
    ],
)
def test_models_that_learn_with_a_weight(spec, takes):
    assert Model(spec).takes_weights is takes


LOGISTIC = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"


def _separable(n: int, classes: tuple) -> tuple[list[dict], list]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    return [{"a": float(v)} for v in a], [classes[int(v > 0)] for v in a]


@pytest.mark.parametrize("classes", [("ham", "spam"), (False, True), (0, 1), (3, 7)])
def test_a_binary_classifier_learns_any_two_classes(classes):
    # river's linear classifiers learn True and False only: "spam" raised in them before.
    model = Model(LOGISTIC)
    assert model.binary
    xs, ys = _separable(400, classes)
    # Before its first label it names no class (river's own says False at 50 %).
    assert model.predict(model.predict_proba(xs[:1])) == [None]
    model.learn(xs[:300], ys[:300])
    assert sorted(model.classes) == sorted(classes)
    assert {type(c) for c in model.classes} == {type(classes[0])}  # 0 == False in Python
    right = np.mean(
        [
            p == y
            for p, y in zip(model.predict(model.predict_proba(xs[300:])), ys[300:], strict=True)
        ]
    )
    assert right > 0.9
    # The frame path (river's predict_proba_many, 512 rows and more) says the same.
    many = model.predict_proba(xs * 2)
    assert many.shape == (800, 2)
    assert many[:400] == pytest.approx(model.predict_proba(xs), abs=1e-9)


def test_booleans_and_zero_one_are_taught_as_river_reads_them():
    for classes, pair in [
        ((True, False), [False, True]),
        ((1, 0), [0, 1]),
        (("b", "a"), ["b", "a"]),
    ]:
        model = Model(LOGISTIC)
        model.learn([{"a": 1.0}, {"a": -1.0}], list(classes))
        assert model.pair == pair


def test_a_third_class_is_refused_and_nothing_of_the_batch_is_learned():
    model = Model(LOGISTIC)
    model.learn([{"a": 1.0}, {"a": -1.0}], ["spam", "ham"])
    with pytest.raises(
        ModelRefused,
        match="tells two classes apart, 'spam' and 'ham', and cannot learn a third, 'eggs'",
    ):
        model.learn([{"a": 2.0}, {"a": 0.5}], ["spam", "eggs"])
    assert model.version == 2 and model.pair == ["spam", "ham"]


def test_a_binary_pair_survives_a_snapshot_and_an_older_one_is_read():
    model = Model(LOGISTIC)
    model.learn(*_separable(50, ("ham", "spam")))
    restored = pickle.loads(pickle.dumps(model))
    assert restored.pair == model.pair and restored.binary
    xs = [{"a": 0.3}, {"a": -2.0}]
    assert restored.predict_proba(xs) == pytest.approx(model.predict_proba(xs))
    # A model pickled before binary classifiers were told apart: it learned booleans as river
    # reads them, and goes on so.
    older = Model.__new__(Model)
    state = {k: v for k, v in Model(LOGISTIC).__dict__.items() if k not in ("binary", "pair")}
    older.__setstate__(state)
    older.learn([{"a": 1.0}], [True])
    assert older.binary and older.pair == [False, True]


def test_a_committee_of_binary_classifiers_votes_by_the_classes():
    model = Model(
        "ensemble.BaggingClassifier(linear_model.LogisticRegression(), n_models=3, seed=1)"
    )
    model.learn(*_separable(100, ("ham", "spam")))
    assert model.committee_proba([{"a": 1.0}]).shape == (1, 3, 2)
    assert sorted(model.classes) == ["ham", "spam"]
