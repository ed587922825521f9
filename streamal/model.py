"""The incremental model: a river classifier or regressor built from a spec string, seen as arrays.

Specs are Python-looking expressions over river's own names, e.g.
``preprocessing.StandardScaler() | linear_model.LogisticRegression(l2=0.001)``.
They are parsed, never evaluated: a name must resolve inside river's
modules, arguments must be literals (or nested river estimators) that the
class's signature takes, and ``|`` and ``+`` build pipelines and unions with
river's own operators.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import inspect
import math
import operator
import types
import typing
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from river import base

from streamal.decider.base import TASKS

__all__ = [
    "CLASS_WEIGHTS",
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "DEFAULT_REGRESSOR",
    "MAX_CLASS_WEIGHT",
    "TASKS",
    "Model",
    "ModelRefused",
    "ModelSpecError",
    "parse_model_spec",
    "task_of",
    "task_of_spec",
]

#: Multi-class, takes string (categorical) features natively, adapts to drift,
#: and was the most label-efficient of river's classifiers we measured at 10 %
#: labels (README, "Choosing the defaults").
DEFAULT_MODEL = "tree.HoeffdingAdaptiveTreeClassifier(seed=42)"

#: The model of a numeric target when none is named: an adaptive random forest (an
#: ensemble, whose members' spread is the deviation its predictions carry), behind one-hot
#: encoded text columns and standardised numbers, so that any column reaches it and its
#: trees' linear leaves see unit-scale inputs. The lowest MAE under 5-10 % labels of the
#: six candidates in benchmarks/quality_regression.py (README, "Choosing the defaults").
DEFAULT_REGRESSOR = (
    "(compose.SelectType(str) | preprocessing.OneHotEncoder()) + "
    "(compose.SelectType(int, float) | preprocessing.StandardScaler()) | "
    "forest.ARFRegressor(seed=42)"
)

#: task → the model used when none is named.
DEFAULT_MODELS = dict(zip(TASKS, (DEFAULT_MODEL, DEFAULT_REGRESSOR), strict=True))

#: How a classifier weighs the labels it learns: each alike, or each class's labels by the
#: inverse of the class's share of them, so that a rare class weighs as much as a common one.
CLASS_WEIGHTS = ("none", "balanced")

#: The largest weight ``balanced`` gives a label. A class's first label after thousands of
#: another's would otherwise weigh hundreds: as many gradient steps at once for a linear model.
MAX_CLASS_WEIGHT = 50.0

#: Below this many events a pandas frame costs more than it saves (benchmarks/RESULTS.md,
#: scaler + logistic regression: 141k events/s one by one at batch 64, 112k through a
#: frame at 256, 178k at 1024).
_MIN_FRAME_ROWS = 512

#: The only bare names a spec may use as arguments, e.g. ``compose.SelectType(str)``.
_TYPE_NAMES = {"str": str, "int": int, "float": float, "bool": bool}

#: The literals whose type is checked against the parameter they are given to.
_LITERAL_TYPES = {**_TYPE_NAMES, "None": type(None)}
_LITERALS = frozenset(_LITERAL_TYPES.values())


class ModelSpecError(ValueError):
    """A model spec that does not name a river estimator with literal arguments."""


class ModelRefused(ValueError):
    """A training example the model cannot take; it was not learned."""


def _river_attribute(node: ast.expr, spec: str) -> Any:
    """Resolve ``module.Name`` (or ``module.sub.Name``) inside the ``river`` package."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ModelSpecError(
            f"expected a river name such as tree.HoeffdingTreeClassifier in {spec!r}"
        )
    parts.append(node.id)
    parts.reverse()
    if parts[0] == "river":
        parts = parts[1:]
    if len(parts) < 2 or any(p.startswith("_") for p in parts):
        raise ModelSpecError(
            f"{'.'.join(parts)!r} is not a public river name (e.g. tree.HoeffdingTreeClassifier)"
        )
    module_name = "river." + ".".join(parts[:-1])
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ModelSpecError(f"river has no module {'.'.join(parts[:-1])!r}") from None
    obj = getattr(module, parts[-1], None)
    if not inspect.isclass(obj) or not obj.__module__.startswith("river."):
        raise ModelSpecError(f"river.{'.'.join(parts[:-1])} has no estimator {parts[-1]!r}")
    return obj


def _build(node: ast.expr, spec: str) -> Any:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.Add):
        left, right = _build(node.left, spec), _build(node.right, spec)
        try:
            return left | right if isinstance(node.op, ast.BitOr) else left + right
        except TypeError as e:
            raise ModelSpecError(f"cannot combine the parts of {spec!r}: {e}") from None
    if isinstance(node, ast.Call):
        cls = _river_attribute(node.func, spec)
        args = [_argument(a, spec) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ModelSpecError(f"**kwargs are not allowed in a model spec: {spec!r}")
            kwargs[kw.arg] = _argument(kw.value, spec)
        name = ast.unparse(node.func)
        _check_arguments(cls, name, args, kwargs)
        try:
            return cls(*args, **kwargs)
        except Exception as e:
            # Literals can make a constructor raise anything (AssertionError, KeyError, …);
            # every such failure means the spec asked for something the class refuses.
            raise ModelSpecError(f"{name}: {e}") from None
    if isinstance(node, ast.Attribute):
        # A bare class name means its default constructor, as in river's docs.
        return _river_attribute(node, spec)()
    raise ModelSpecError(
        f"unsupported syntax in model spec {spec!r}: only river estimators, | and + are allowed"
    )


def _check_arguments(cls: type, name: str, args: list, kwargs: dict) -> None:
    """Refuse arguments ``cls`` does not take, and literals of a type it does not take.

    River's constructors store their arguments unchecked, so a wrong one would
    otherwise fail at the first event, deep in a run.
    """
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # a compiled class without a Python signature
        return
    parameters = signature.parameters
    kinds = {p.kind for p in parameters.values()}
    if inspect.Parameter.VAR_KEYWORD not in kinds:
        named = [
            p.name
            for p in parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        for keyword in kwargs:
            if keyword not in named:
                # !a shows a look-alike letter (a Cyrillic е in grace_period) as \u0435.
                close = difflib.get_close_matches(keyword, named, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ModelSpecError(
                    f"{name} has no argument {keyword!a}{hint} "
                    f"(it takes: {', '.join(named) or 'no arguments'})"
                )
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as e:
        raise ModelSpecError(f"{name}: {e}") from None
    for parameter_name, value in bound.arguments.items():
        parameter = parameters[parameter_name]
        if type(value) not in _LITERALS:
            continue  # a river estimator, a type name, or a container: left to the class
        accepted = _accepted_types(parameter)
        if accepted is not None and not _fits(value, accepted):
            takes = " or ".join(sorted(t.__name__.replace("NoneType", "None") for t in accepted))
            raise ModelSpecError(
                f"{name}: {parameter_name} takes {takes}, not {type(value).__name__} ({value!r})"
            )


def _accepted_types(parameter: inspect.Parameter) -> set[type] | None:
    """The literal types ``parameter`` takes, or ``None`` when its signature cannot tell.

    An annotation that names nothing but int, float, bool, str and None says
    (with the default's type, for annotations such as ``seed: int = None``); one
    that names anything else (a river class) cannot. Without an annotation, a
    default other than None gives its type.

    >>> from river import linear_model, tree
    >>> parameters = inspect.signature(tree.HoeffdingTreeClassifier).parameters
    >>> [sorted(t.__name__ for t in _accepted_types(parameters[p])) for p in ("max_depth", "tau")]
    [['NoneType', 'int'], ['float']]
    >>> parameters = inspect.signature(linear_model.LogisticRegression).parameters
    >>> _accepted_types(parameters["l2"]), _accepted_types(parameters["intercept_lr"])
    ({<class 'float'>}, None)
    """
    default = parameter.default
    literal_default = default is not inspect.Parameter.empty and type(default) in _LITERALS
    if parameter.annotation is inspect.Parameter.empty:
        return {type(default)} if literal_default and default is not None else None
    annotated = _annotated_types(parameter.annotation)
    if annotated is None:
        return None
    return annotated | {type(default)} if literal_default else annotated


def _annotated_types(annotation: Any) -> set[type] | None:
    if isinstance(annotation, str):  # river's modules postpone their annotations
        found = [_LITERAL_TYPES.get(part.strip()) for part in annotation.split("|")]
    else:
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        members = typing.get_args(annotation) if is_union else (annotation,)
        found = [t if t in _LITERALS else None for t in members]
    return None if None in found else set(found)


def _fits(value: Any, accepted: set[type]) -> bool:
    """Whether a literal is of an accepted type; an int or a float stands for either.

    >>> _fits(100, {float}), _fits(1e3, {int}), _fits("x", {int}), _fits(True, {int})
    (True, True, False, False)
    """
    numbers = {int, float}
    return type(value) in accepted or (type(value) in numbers and bool(accepted & numbers))


def _argument(node: ast.expr, spec: str) -> Any:
    if isinstance(node, ast.Name) and node.id in _TYPE_NAMES:
        return _TYPE_NAMES[node.id]
    if isinstance(node, ast.Call | ast.BinOp | ast.Attribute) and not _is_literal(node):
        return _build(node, spec)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ModelSpecError(
            f"argument {ast.unparse(node)!r} in {spec!r} is not a literal or a river estimator"
        ) from None


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def parse_model_spec(spec: str) -> base.Estimator:
    """Build the river classifier or regressor described by ``spec``.

    Examples
    --------

    >>> model = parse_model_spec(
    ...     "preprocessing.StandardScaler() | linear_model.LogisticRegression(l2=0.001)"
    ... )
    >>> list(model.steps), model["LogisticRegression"].l2
    (['StandardScaler', 'LogisticRegression'], 0.001)

    Anything that is not a river name with literal arguments is refused:

    >>> parse_model_spec("__import__('os').system('true')")
    Traceback (most recent call last):
    ...
    streamal.model.ModelSpecError: expected a river name such as tree.HoeffdingTreeClassifier in ...

    Arguments are checked against the class's signature before it is built: an
    unknown name, a missing or extra argument, or a literal of a type the
    parameter does not take (as its annotation, or else its default, tells) is
    refused here rather than at the first event of a run:

    >>> parse_model_spec("tree.HoeffdingTreeClassifier(grace_period='x')")
    Traceback (most recent call last):
    ...
    streamal.model.ModelSpecError: tree.HoeffdingTreeClassifier: grace_period takes int, not str ...

    """
    try:
        tree = ast.parse(spec.strip(), mode="eval")
    except SyntaxError as e:
        raise ModelSpecError(f"model spec {spec!r} is not valid syntax: {e.msg}") from None
    model = _build(tree.body, spec)
    if task_of(model) is None:
        raise ModelSpecError(f"{spec!r} does not end in a river classifier or regressor")
    return model


def task_of(model: base.Estimator) -> str | None:
    """``"classification"`` or ``"regression"``: what ``model`` predicts (``None``: neither).

    >>> from river import linear_model, preprocessing
    >>> task_of(preprocessing.StandardScaler() | linear_model.LinearRegression())
    'regression'
    >>> task_of(linear_model.LogisticRegression()), task_of(preprocessing.StandardScaler())
    ('classification', None)
    """
    if isinstance(model, base.Classifier):
        return "classification"
    if isinstance(model, base.Regressor):
        return "regression"
    # A classifier that does not say it is one, but scores classes.
    supervised = isinstance(model, base.Estimator) and getattr(model, "_supervised", False)
    return "classification" if supervised and hasattr(model, "predict_proba_one") else None


@functools.lru_cache(maxsize=64)
def task_of_spec(spec: str) -> str | None:
    """:func:`task_of` the model ``spec`` describes (``None`` if it describes none)."""
    try:
        return task_of(parse_model_spec(spec))
    except ModelSpecError:
        return None


def _last_step_takes(model: base.Estimator, method: str, parameter: str) -> bool:
    """Whether ``model``'s (a pipeline's last step's) ``method`` names ``parameter``.

    >>> _last_step_takes(parse_model_spec("linear_model.BayesianLinearRegression()"),
    ...                  "predict_one", "with_dist")
    True
    >>> spec = "preprocessing.StandardScaler() | naive_bayes.GaussianNB()"
    >>> _last_step_takes(parse_model_spec(spec), "learn_one", "w")
    False
    """
    from river import compose

    if isinstance(model, compose.Pipeline):
        model = list(model.steps.values())[-1]
    try:
        return parameter in inspect.signature(getattr(model, method)).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _spread(committee: np.ndarray) -> np.ndarray:
    """The members' standard deviation per event (NaN for an ensemble not yet grown)."""
    if committee.shape[1] == 0:
        return np.full(committee.shape[0], math.nan)
    return committee[:, :, 0].std(axis=1)


def _is_binary(model: base.Estimator) -> bool:
    """Whether ``model`` classifies between two classes only (river's ``_multiclass`` False).

    >>> _is_binary(parse_model_spec("preprocessing.StandardScaler() | linear_model.Perceptron()"))
    True
    >>> _is_binary(parse_model_spec("tree.HoeffdingTreeClassifier()"))
    False
    """
    return task_of(model) == "classification" and not getattr(model, "_multiclass", True)


def _is_mini_batch(model: base.Estimator) -> bool:
    """Whether every step of ``model`` implements river's ``*_many`` methods."""
    from river import compose

    if isinstance(model, compose.Pipeline):
        return all(_is_mini_batch(step) for step in model.steps.values())
    if isinstance(model, compose.TransformerUnion):
        return all(_is_mini_batch(t) for t in model.transformers.values())
    return isinstance(model, base.MiniBatchClassifier | base.MiniBatchTransformer)


class Model:
    """A river classifier or regressor behind an array interface; its version counts updates.

    Class columns keep the order in which classes were first seen, so a
    probability row means the same thing from one batch to the next. A
    regressor's rows (:meth:`predict_values`) are its predicted value and
    its predictive standard deviation.

    Parameters
    ----------
    spec
        A model spec (see :func:`parse_model_spec`) or a river classifier or regressor.

    Examples
    --------

    >>> model = Model("naive_bayes.GaussianNB()")
    >>> model.learn([{"a": 1.0}, {"a": 3.0}], ["low", "high"])
    >>> proba = model.predict_proba([{"a": 1.2}])
    >>> model.classes, proba.shape, model.version
    (['low', 'high'], (1, 2), 2)
    >>> model.predict(proba)
    ['low']

    A regressor predicts numbers, and how sure it is of them where it can say:

    >>> model = Model("linear_model.BayesianLinearRegression()")
    >>> model.task
    'regression'
    >>> model.learn([{"a": 1.0}, {"a": 3.0}], [2.0, 6.0])
    >>> rows = model.predict_values([{"a": 2.0}])
    >>> rows.round(3).tolist(), model.predict(rows) == rows[:, 0].tolist()
    ([[3.636, 1.168]], True)

    """

    def __init__(self, spec: str | base.Estimator = DEFAULT_MODEL) -> None:
        self.spec = spec if isinstance(spec, str) else repr(spec)
        self.estimator = parse_model_spec(spec) if isinstance(spec, str) else spec
        task = task_of(self.estimator)
        if task is None:
            raise ModelSpecError(f"{self.spec!r} is not a river classifier or regressor")
        #: ``"classification"`` or ``"regression"``
        self.task = task
        self.mini_batch = _is_mini_batch(self.estimator)
        #: whether the classifier tells two classes apart only, as river's linear ones do
        self.binary = _is_binary(self.estimator)
        #: a binary classifier's two classes: the one it learns as False, then as True
        self.pair: list[Hashable] = []
        self.classes: list[Hashable] = []
        self._column: dict[Hashable, int] = {}
        self.version = 0
        #: ``(feature, type)`` pairs a fresh copy of the model has learned and scored
        self._tried: set[tuple[Hashable, type]] = set()
        #: one of :data:`CLASS_WEIGHTS`
        self.class_weight = "none"
        #: how many labels of each class the model has learned
        self.label_counts: dict[Hashable, int] = {}

    def __setstate__(self, state: dict) -> None:
        # Snapshots written before the learning trial, numeric targets or class weights lack
        # their records (a model restored so starts counting its labels anew).
        self.__dict__.update(
            _tried=set(), task="classification", class_weight="none", label_counts={}, pair=[]
        )
        self.__dict__.update(state)
        if "binary" not in state:
            self.binary = _is_binary(self.estimator)

    @property
    def is_regressor(self) -> bool:
        return self.task == "regression"

    def _add_class(self, c: Hashable) -> None:
        if c not in self._column:
            self._column[c] = len(self.classes)
            self.classes.append(c)

    def predict_proba(self, xs: Sequence[dict]) -> np.ndarray:
        """Class probabilities, one row per event, one column per class in :attr:`classes`."""
        frame = self._frame(xs) if self.mini_batch and len(xs) >= _MIN_FRAME_ROWS else None
        if frame is not None:
            return self._predict_proba_many(frame)
        dicts = self._named([self.estimator.predict_proba_one(x) for x in xs])
        for d in dicts:
            for c in d:
                self._add_class(c)
        proba = np.zeros((len(xs), len(self.classes)))
        column = self._column
        for i, d in enumerate(dicts):
            for c, p in d.items():
                if p > 0.0 and math.isfinite(p):
                    proba[i, column[c]] = p
        return proba

    @staticmethod
    def _frame(xs: Sequence[dict]) -> Any:
        """The events as one pandas frame, or None where river's ``*_many`` would misread them.

        river's frames need string column names, and every event to have every
        feature: a missing one is NaN in the frame, and a NaN row a row of zeros.
        Those batches take the one-by-one path, where a missing feature is what
        river makes of it.
        """
        names = list(xs[0])
        n = len(names)
        if not n or not all([type(k) is str for k in names]):
            return None
        if not all([len(x) == n for x in xs]):
            return None
        get = operator.itemgetter(*names)
        try:
            rows = [get(x) for x in xs]
        except KeyError:  # as many features as the first event, not the same ones
            return None
        # Imported here, not at the top: a daemon's start waits on every import, and only a
        # mini-batch model's large batches need pandas (issue 13's start budget).
        import pandas as pd

        if n == 1:
            rows = [(value,) for value in rows]
        values = np.array(rows)
        if values.dtype.kind in "iuf":
            return pd.DataFrame(values.astype(np.float64, copy=False), columns=names)
        # Strings (or integers beyond int64) among the features: a frame of typed columns.
        return pd.DataFrame.from_records(rows, columns=names)

    def _predict_proba_many(self, frame: Any) -> np.ndarray:
        result = self.estimator.predict_proba_many(frame)
        columns = list(result.columns)
        values = np.nan_to_num(result.to_numpy(dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        names = self._names()
        if names is not None:
            # By position: a frame indexed with a list of booleans takes them for a mask.
            kept = [j for j, c in enumerate(columns) if c in names]
            columns, values = [names[columns[j]] for j in kept], values[:, kept]
        for c in columns:
            self._add_class(c)
        proba = np.zeros((len(frame), len(self.classes)))
        proba[:, [self._column[c] for c in columns]] = np.clip(values, 0.0, None)
        return proba

    def _names(self) -> dict[Hashable, Hashable] | None:
        """The classes a binary classifier's False and True stand for (``None``: as they are)."""
        # Booleans are river's own names (a check of type: 0 == False, and [0, 1] are not).
        if not self.binary or (self.pair and isinstance(self.pair[0], bool)):
            return None
        return dict(zip((False, True), self.pair, strict=False))

    def _named(self, dicts: list[dict]) -> list[dict]:
        """river's probabilities keyed by the classes; a binary one's say nothing before a label."""
        names = self._names()
        if names is None:
            return dicts
        return [{names[c]: p for c, p in d.items() if c in names} for d in dicts]

    def _taught(self, y: Hashable) -> Hashable:
        """What the model learns for class ``y``: ``y``, or a binary classifier's False or True.

        Booleans, and the integers 0 and 1, are taught as river reads them; any
        other two classes in the order they come. A third is refused.

        >>> model = Model("linear_model.LogisticRegression()")
        >>> [model._taught(y) for y in ("spam", "ham", "spam")], model.pair
        ([False, True, False], ['spam', 'ham'])
        >>> model._taught("eggs")
        Traceback (most recent call last):
        ...
        streamal.model.ModelRefused: linear_model.LogisticRegression() tells two classes apart...
        """
        if not self.binary:
            return y
        pair = self.pair
        if y not in pair:
            if len(pair) == 2:
                raise ModelRefused(
                    f"{self.spec} tells two classes apart, {pair[0]!r} and {pair[1]!r}, and "
                    f"cannot learn a third, {y!r}; multiclass.OneVsRestClassifier(...) around "
                    "it learns any number"
                )
            if not pair and isinstance(y, bool):
                pair.extend((False, True))
            elif not pair and isinstance(y, int) and y in (0, 1):
                pair.extend((0, 1))
            else:
                pair.append(y)
        return pair.index(y) == 1

    def _committee(self) -> tuple[list[Any], base.Ensemble] | None:
        """The transformers in front of an ensemble classifier, and the ensemble."""
        from river import compose

        if isinstance(self.estimator, compose.Pipeline):
            *transformers, last = self.estimator.steps.values()
            return (transformers, last) if isinstance(last, base.Ensemble) else None
        return ([], self.estimator) if isinstance(self.estimator, base.Ensemble) else None

    def _members(self) -> tuple[list[Any], base.Ensemble]:
        found = self._committee()
        if found is None:
            raise TypeError(f"{self.spec!r} is not an ensemble, so it has no committee")
        return found

    @property
    def gives_distribution(self) -> bool:
        """Whether the regressor predicts a distribution, hence its own deviation."""
        return self.is_regressor and _last_step_takes(self.estimator, "predict_one", "with_dist")

    @property
    def takes_weights(self) -> bool:
        """Whether the model learns an example with a weight (its ``learn_one`` takes ``w``).

        An ensemble's ``learn_one(x, y, **kwargs)`` may take one and drop it
        (river's ARF draws its own), so only a ``w`` it names counts.
        """
        return _last_step_takes(self.estimator, "learn_one", "w")

    @property
    def is_committee(self) -> bool:
        """Whether the classifier is an ensemble (maybe after transformers) whose members vote."""
        return self._committee() is not None

    def committee_proba(self, xs: Sequence[dict]) -> np.ndarray:
        """Every member's class probabilities: events × members × :attr:`classes`.

        >>> spec = "ensemble.BaggingClassifier(naive_bayes.GaussianNB(), n_models=3, seed=1)"
        >>> model = Model(spec)
        >>> model.learn([{"a": 1.0}, {"a": 3.0}], ["low", "high"])
        >>> model.committee_proba([{"a": 2.0}]).round(2).tolist()
        [[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]]

        """
        transformers, ensemble = self._members()
        dicts = []
        for x in xs:
            for transformer in transformers:
                x = transformer.transform_one(x)
            dicts.append([member.predict_proba_one(x) for member in ensemble])
        dicts = [self._named(row) for row in dicts]
        for row in dicts:
            for d in row:
                for c in d:
                    self._add_class(c)
        proba = np.zeros((len(xs), len(ensemble), len(self.classes)))
        column = self._column
        for i, row in enumerate(dicts):
            for m, d in enumerate(row):
                for c, p in d.items():
                    if p > 0.0 and math.isfinite(p):
                        proba[i, m, column[c]] = p
        return proba

    def predict_values(self, xs: Sequence[dict], committee: np.ndarray | None = None) -> np.ndarray:
        """A regressor's rows: its predicted value and predictive standard deviation, events × 2.

        The deviation is the model's own where it gives a predictive
        distribution (``predict_one(x, with_dist=True)``, as
        ``linear_model.BayesianLinearRegression``), else the spread of an
        ensemble's members (``committee``, when :meth:`committee_values` was
        already asked for them), else NaN (unknown).
        """
        rows = np.full((len(xs), 2), math.nan)
        if self.gives_distribution:
            for i, x in enumerate(xs):
                dist = self.estimator.predict_one(x, with_dist=True)
                rows[i] = dist.mu, dist.sigma
        else:
            rows[:, 0] = [self.estimator.predict_one(x) for x in xs]
            if self.is_committee:
                members = self.committee_values(xs) if committee is None else committee
                rows[:, 1] = _spread(members)
        return rows

    def committee_values(self, xs: Sequence[dict]) -> np.ndarray:
        """Every member's predicted value: events × members × 1.

        >>> model = Model("ensemble.BaggingRegressor(linear_model.LinearRegression(), seed=1)")
        >>> model.learn([{"a": 1.0}, {"a": 3.0}], [2.0, 6.0])
        >>> model.committee_values([{"a": 2.0}]).shape
        (1, 10, 1)

        """
        transformers, ensemble = self._members()
        values = np.zeros((len(xs), len(ensemble), 1))
        for i, x in enumerate(xs):
            for transformer in transformers:
                x = transformer.transform_one(x)
            values[i, :, 0] = [member.predict_one(x) for member in ensemble]
        return values

    def predict(self, proba: np.ndarray) -> list[Hashable | None]:
        """The most probable class of every row (``None`` where the model knows no class).

        A regressor's rows (:meth:`predict_values`) give their predicted value.
        """
        if self.is_regressor:
            return proba[:, 0].tolist()
        if not self.classes:
            return [None] * len(proba)
        classes = self.classes
        return [classes[j] for j in np.argmax(proba, axis=1).tolist()]

    def learn(self, xs: Sequence[dict], ys: Sequence[Hashable]) -> None:
        """Learn the examples one by one, in order.

        Raises :class:`ModelRefused`, having learned none of them, when one holds
        a kind of value the model cannot take. Some models take such a value
        without complaint and then fail on every later event (``neighbors``
        stores a string and cannot measure distances to it again), so the first
        time a feature comes with a type, a fresh copy of the model learns and
        scores that example first; the model itself learns it only if the copy
        could. Features and types already tried cost nothing.

        >>> model = Model("neighbors.KNNClassifier()")
        >>> model.learn([{"a": 1.0}], ["low"])
        >>> model.learn([{"a": 2.0}, {"a": "red"}], ["low", "high"])
        Traceback (most recent call last):
        ...
        streamal.model.ModelRefused: ...this example (TypeError: ...); first seen here: 'a' as str
        >>> model.version, model.predict(model.predict_proba([{"a": 1.5}]))
        (1, ['low'])

        """
        for x, y in zip(xs, ys, strict=True):
            self.check_learnable(x, y)
        learn_one = self.estimator.learn_one
        if self.is_regressor:
            for x, y in zip(xs, ys, strict=True):
                learn_one(x, y)
        else:
            counts = self.label_counts
            balanced = self.class_weight == "balanced"
            for x, y in zip(xs, ys, strict=True):
                self._add_class(y)
                counts[y] = counts.get(y, 0) + 1
                if balanced:
                    learn_one(x, self._taught(y), w=self._balanced_weight(y))
                else:
                    learn_one(x, self._taught(y))
        self.version += len(ys)

    def _balanced_weight(self, y: Hashable) -> float:
        """``y``'s weight under ``balanced``: labels so far / (classes × labels of ``y``).

        With every class as frequent as the others each label weighs 1; a class
        with a twentieth of two classes' labels weighs 10 (at most
        :data:`MAX_CLASS_WEIGHT`). The counts are of the labels learned, in the
        training log's order, so every replica weighs every label alike.

        >>> model = Model("linear_model.LogisticRegression()")
        >>> model.label_counts = {True: 19, False: 1}
        >>> model._balanced_weight(False), round(model._balanced_weight(True), 3)
        (10.0, 0.526)
        """
        counts = self.label_counts
        return min(MAX_CLASS_WEIGHT, sum(counts.values()) / (len(counts) * counts[y]))

    def check_learnable(self, x: dict, y: Hashable) -> None:
        """Raise :class:`ModelRefused` if learning ``(x, y)`` would fail or break the model.

        It learns nothing; a new feature type is tried on a fresh copy (see :meth:`learn`).
        """
        # A binary classifier's third class is refused here, before anything is learned; a
        # class it has not met takes its place in the pair now, in the order checked, which
        # is the order learned.
        y = self._taught(y)
        # Nearly every example has only features and types tried before: one check in C.
        if self._tried.issuperset(zip(x, map(type, x.values()), strict=True)):
            return
        new = {(k, type(v)) for k, v in x.items()} - self._tried
        trial = self.estimator.clone()
        try:
            trial.learn_one(x, y)
            trial.predict_one(x) if self.is_regressor else trial.predict_proba_one(x)
        except Exception as e:  # the user's model: what it raises says what it cannot take
            shown = ", ".join(f"{k!r} as {t.__name__}" for k, t in sorted(new, key=str)[:3])
            raise ModelRefused(
                f"{self.spec} cannot learn this example ({type(e).__name__}: {e}); "
                f"first seen here: {shown}"
            ) from None
        self._tried |= new
