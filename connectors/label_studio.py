"""The Label Studio bridge behind ``streamal label-studio``: queries become tasks, answers labels.

Each query on the queries topic becomes a task in a Label Studio project:
its features in ``data.x`` (shown as a table), the query id in
``data.query_id``, its score in ``data.priority``, and the model's guess (the
argmax of ``proba``) as a prediction, which Label Studio shows pre-selected.
The project uses Label Studio's *uncertainty sampling*, which serves the
task whose prediction has the lowest score first; each prediction's score is
``1 - score``, so people see the most useful query first. (For the usual
scores in [0, 1] that is the model's certainty, what Label Studio expects
there.)

Every annotation a person submits becomes one record on the labels topic,
under the person's e-mail address as annotator (and, if asked, the seconds
they spent on it as its cost). Skipped tasks send nothing. Classes travel
through Label Studio as strings; a label is sent with its class's JSON type
(``true``, ``1``), taken from the query's ``classes`` list when it has one,
otherwise read back from the string (:func:`class_value`), so the model's
classes are not split into ``1`` and ``"1"``.

A numeric target (a regressor's queries) is answered with a ``<Number>``
control instead of ``<Choices>``: the model's ``prediction`` is the task's
pre-annotation (and ``data.prediction``, ``data.std``), and the number a
person submits is sent as a JSON number. The bridge knows the target is
numeric when it is told (``--task regression``, or the daemon's config), when
the project it uses has a ``<Number>`` control and no ``<Choices>``, or, when
it creates the project, from the first queries: one that carries a
``prediction`` or a null score (:func:`streamal.messages.is_numeric_query`).
A query's null score, a utility the model could not tell, is a null
``data.priority`` and the prediction score of a score of 0: such tasks are
served after those whose utility is known.

Restart safety, with no local state:

- a task is created at most once: the bridge reads the project's query ids
  when it starts and skips a query it already has a task for (a query
  repeated by the daemon after a crash, or re-read because the bridge
  stopped before committing its offset: offsets are committed after the
  tasks are created);
- an annotation is sent at most once per bridge: after its label is on the
  topic, the annotation's id is added to the task's ``meta.streamal.reported``
  in Label Studio, and annotations listed there are not sent again. At start
  the bridge reads every annotated task; then, each poll, only those changed
  since the last one. A crash in the milliseconds between Kafka's
  acknowledgement and that update sends the label once more on restart;
  the daemon counts a repeated answer to an answered query as a duplicate.

Tasks expire like the daemon's pending queries: once the newest query is
``ttl`` seconds younger than a task's query (``data.query_ts``), the task is
deleted unless someone has answered it, and a query that old is not made a
task at all. One bridge serves one project.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

import orjson
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from streamal.classes import coerce, kind_of
from streamal.engine import Query
from streamal.messages import InvalidRecord, decode_query, is_numeric_query

__all__ = [
    "MODEL_VERSION",
    "Bridge",
    "ChoiceControl",
    "LabelStudio",
    "LabelStudioError",
    "NumberControl",
    "class_value",
    "control_of",
    "label_config",
    "label_of",
    "number_config",
    "run_bridge",
    "task_of",
]

log = logging.getLogger("streamal.label_studio")

#: The model version of the bridge's predictions, and the project's: Label Studio shows and
#: samples by the predictions of the project's model version.
MODEL_VERSION = "streamal"
#: Label Studio's task sampling that serves the lowest prediction score first.
UNCERTAINTY_SAMPLING = "Uncertainty sampling"
#: Where a task's meta keeps the ids of the annotations already sent.
META_KEY = "streamal"
#: Label Studio's datetime format in task filters.
_FILTER_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Tasks changed this long before the newest change seen are read again at the next poll, for
#: an annotation whose transaction committed after a later one's.
_CHANGE_MARGIN = timedelta(seconds=5)
_PAGE_SIZE = 100
#: Seconds to wait before trying again when Label Studio or Kafka is away.
_RETRY_SECONDS = 5.0


class LabelStudioError(Exception):
    """Label Studio refused a request or could not be reached; ``status`` is None if unreached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LabelStudio:
    """A small JSON client of Label Studio's REST API.

    ``token`` is either a legacy API token (sent as ``Token …``) or a personal
    access token (a JWT, Label Studio >= 1.14), which is exchanged for a
    short-lived access token, renewed when it expires.
    """

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._personal = token.count(".") == 2
        self._access: str | None = None

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The decoded JSON answer of ``method path``; raises :class:`LabelStudioError`."""
        try:
            return self._send(method, path, body, params, self._authorization())
        except LabelStudioError as e:
            if e.status != 401 or not self._personal:
                raise
            self._access = None  # expired access token: one more try with a new one
            return self._send(method, path, body, params, self._authorization())

    def _authorization(self) -> str:
        if not self._personal:
            return f"Token {self._token}"
        if self._access is None:
            answer = self._send("POST", "/api/token/refresh/", {"refresh": self._token}, None, None)
            self._access = answer["access"]
        return f"Bearer {self._access}"

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        params: dict[str, Any] | None,
        authorization: str | None,
    ) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(url, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise LabelStudioError(
                f"{method} {path}: {e.code} {_detail(e.read())}", e.code
            ) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {reason}") from None
        return orjson.loads(raw) if raw else None

    def tasks(
        self, project: int, filters: Sequence[dict] = (), fields: str = "all"
    ) -> Iterator[dict]:
        """Every task of ``project`` matching all of the data manager ``filters``, page by page."""
        # In id order: a task that starts to match while the pages are read then moves the
        # later ones down (one is read twice), never up past the reader.
        query = {
            "filters": {"conjunction": "and", "items": list(filters)},
            "ordering": ["tasks:id"],
        }
        params = {"project": project, "fields": fields, "page_size": _PAGE_SIZE}
        params["query"] = orjson.dumps(query).decode()
        page, seen = 1, 0
        while True:
            answer = self.request("GET", "/api/tasks/", params={**params, "page": page})
            yield from answer["tasks"]
            seen += len(answer["tasks"])
            if not answer["tasks"] or seen >= answer["total"]:
                return
            page += 1


def _detail(raw: bytes) -> str:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:200].decode("utf-8", "replace").strip()
    if not isinstance(answer, dict):
        return str(answer)[:200]
    detail = str(answer.get("detail", ""))
    if answer.get("validation_errors"):
        detail += f" {answer['validation_errors']}"
    return detail.strip() or str(answer)[:200]


def _filter(field_name: str, operator: str, kind: str, value: Any) -> dict:
    return {
        "filter": f"filter:tasks:{field_name}",
        "operator": operator,
        "type": kind,
        "value": value,
    }


def class_value(text: str, classes: Iterable[Hashable] | None = None) -> Hashable:
    """The class a choice ``text`` stands for, with its JSON type.

    Classes are strings in Label Studio and in ``proba``'s keys. When the query
    listed its ``classes``, the one spelled ``text`` is it; otherwise the text
    is read as the daemon reads a first answer (:func:`streamal.classes.kind_of`):
    a model trained on ``1`` must get ``1`` back, not ``"1"``.

    >>> class_value("spam"), class_value("true"), class_value("False"), class_value("-3")
    ('spam', True, False, -3)
    >>> class_value("007"), class_value("1", classes=["1", "2"]), class_value("1", [True, 1])
    ('007', '1', 1)
    """
    if classes is not None:
        for value in classes:
            if class_text(value) == text or str(value) == text:
                return value
    return coerce(text, kind_of(text))


def class_text(value: Hashable) -> str:
    """How a class is spelled as a ``proba`` key (JSON's ``true``, not Python's ``True``).

    >>> class_text(True), class_text(3), class_text("spam")
    ('true', '3', 'spam')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class ChoiceControl:
    """The project's Choices control: its name, the object it labels, and its choices."""

    name: str
    to_name: str
    choices: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, config: str) -> ChoiceControl:
        """The first ``<Choices>`` of a label config.

        >>> ChoiceControl.of(label_config(["ham", "spam"]))
        ChoiceControl(name='label', to_name='x', choices=['ham', 'spam'])
        """
        choices = ET.fromstring(config).find(".//Choices")
        if choices is None:
            raise LabelStudioError("the project's label config has no <Choices> control")
        values = [c.get("alias") or c.get("value", "") for c in choices.iter("Choice")]
        return cls(choices.get("name", ""), choices.get("toName", ""), values)

    def with_choices(self, config: str, new: Sequence[str]) -> str:
        """``config`` with ``new`` choices appended to this control.

        >>> config = label_config(["ham"])
        >>> ChoiceControl.of(ChoiceControl.of(config).with_choices(config, ["spam"])).choices
        ['ham', 'spam']
        """
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        root = ET.fromstring(config, parser)
        choices = next(c for c in root.iter("Choices") if c.get("name") == self.name)
        for value in new:
            ET.SubElement(choices, "Choice", value=value)
        return ET.tostring(root, encoding="unicode")


@dataclass
class NumberControl:
    """The project's Number control, which answers a numeric target: its name and object."""

    name: str
    to_name: str

    @classmethod
    def of(cls, config: str) -> NumberControl:
        """The first ``<Number>`` of a label config.

        >>> NumberControl.of(number_config())
        NumberControl(name='label', to_name='x')
        """
        number = ET.fromstring(config).find(".//Number")
        if number is None:
            raise LabelStudioError(
                "the project's label config has no <Number> control, which a numeric target "
                "is answered with"
            )
        return cls(number.get("name", ""), number.get("toName", ""))


def control_of(config: str, numeric: bool = False) -> ChoiceControl | NumberControl:
    """The control of a label config that answers the queries.

    A numeric target's is the first ``<Number>``; otherwise the first
    ``<Choices>``, or a ``<Number>`` in a config that has no choices (the
    project then makes the target numeric).

    >>> control_of(label_config(["ham"]))
    ChoiceControl(name='label', to_name='x', choices=['ham'])
    >>> control_of(number_config())
    NumberControl(name='label', to_name='x')
    >>> control_of(label_config(["ham"]), numeric=True)
    Traceback (most recent call last):
    ...
    streamal.connectors.label_studio.LabelStudioError: the project's label config has no <Number>
    control, which a numeric target is answered with
    """
    root = ET.fromstring(config)
    if numeric or (root.find(".//Choices") is None and root.find(".//Number") is not None):
        return NumberControl.of(config)
    try:
        return ChoiceControl.of(config)
    except LabelStudioError:
        raise LabelStudioError(
            "the project's label config has no <Choices> control (nor a <Number> one, "
            "for a numeric target)"
        ) from None


def label_config(classes: Sequence[str]) -> str:
    """The label config of a project the bridge creates: the features, one choice per class.

    >>> print(label_config(["ham", "spam"]))
    <View>
      <Header value="Which class? (query $query_id)"/>
      <Table name="x" value="$x"/>
      <Choices name="label" toName="x" choice="single" showInLine="true">
        <Choice value="ham"/>
        <Choice value="spam"/>
      </Choices>
    </View>
    """
    choices = "".join(f"\n    <Choice value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        '  <Header value="Which class? (query $query_id)"/>\n'
        '  <Table name="x" value="$x"/>\n'
        '  <Choices name="label" toName="x" choice="single" showInLine="true">'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>"
    )


def number_config() -> str:
    """The label config of a project the bridge creates for a numeric target.

    ``step="any"`` lets the field take any decimal (its default step is 1, made
    for whole numbers: a browser flags 2.5 as a step mismatch).

    >>> print(number_config())
    <View>
      <Header value="What value? (query $query_id)"/>
      <Table name="x" value="$x"/>
      <Number name="label" toName="x" step="any"/>
    </View>
    """
    return (
        "<View>\n"
        '  <Header value="What value? (query $query_id)"/>\n'
        '  <Table name="x" value="$x"/>\n'
        '  <Number name="label" toName="x" step="any"/>\n'
        "</View>"
    )


def query_classes(query: Query) -> list[str]:
    """The classes a query names, spelled as choices: its ``classes`` list and ``proba``'s keys.

    >>> query_classes(Query("e1", 0.0, {}, {"ham": 0.2, "spam": 0.8}, 0.5, "split", 0))
    ['ham', 'spam']
    >>> query_classes(Query("e1", 0.0, {}, {"false": 1.0}, 0.5, "split", 0, (True, False)))
    ['true', 'false']
    """
    return list(dict.fromkeys([*map(class_text, query.classes), *query.proba]))


def task_of(query: Query, control: ChoiceControl | NumberControl) -> dict:
    """The Label Studio task of a query: its data and the model's guess as a prediction.

    >>> query = Query("e7", 3.0, {"a": 1.5}, {"ham": 0.3, "spam": 0.7}, 0.8, "split", 4)
    >>> task = task_of(query, ChoiceControl("label", "x", ["ham", "spam"]))
    >>> task["data"]["query_id"], task["data"]["priority"], task["data"]["x"]
    ('e7', 0.8, {'a': 1.5})
    >>> prediction = task["predictions"][0]
    >>> prediction["result"][0]["value"], round(prediction["score"], 3)
    ({'choices': ['spam']}, 0.2)

    A numeric target's guess is its predicted value; a null score (NaN) is a
    null priority, served after every known one:

    >>> query = Query("e8", 3.0, {"a": 1.5}, {}, math.nan, "leverage", 4, prediction=2.5, std=0.5)
    >>> task = task_of(query, NumberControl("label", "x"))
    >>> task["data"]["priority"], task["data"]["prediction"], task["data"]["std"]
    (None, 2.5, 0.5)
    >>> task["predictions"][0]["result"][0]["value"], task["predictions"][0]["score"]
    ({'number': 2.5}, 1.0)
    """
    proba = query.proba
    known = math.isfinite(query.score)
    data = {
        "query_id": query.id,
        "x": query.x,
        "priority": query.score if known else None,
        "query_ts": query.ts,
        "proba": proba,
        "strategy": query.strategy,
        "model_version": query.model_version,
    }
    if query.classes:
        data["classes"] = list(query.classes)
    if query.prediction is not None:
        data |= {"prediction": query.prediction, "std": query.std}
    result = []
    if isinstance(control, NumberControl):
        if query.prediction is not None:
            result.append(
                {
                    "from_name": control.name,
                    "to_name": control.to_name,
                    "type": "number",
                    "value": {"number": query.prediction},
                }
            )
    elif proba:
        guess = max(proba, key=proba.get)
        result.append(
            {
                "from_name": control.name,
                "to_name": control.to_name,
                "type": "choices",
                "value": {"choices": [guess]},
            }
        )
    # Even with no guess: uncertainty sampling serves only tasks with a prediction. A score
    # the model could not tell counts as 0 (Label Studio sorts a null score first on SQLite).
    score = 1.0 - query.score if known else 1.0
    prediction = {"model_version": MODEL_VERSION, "score": score, "result": result}
    return {"data": data, "predictions": [prediction]}


def label_of(
    task: dict,
    annotation: dict,
    control: ChoiceControl | NumberControl,
    annotator: str,
    lead_time_cost: bool,
) -> dict | None:
    """The labels-topic record of a person's annotation, or None if it chose no class.

    >>> task = {"data": {"query_id": "e7", "classes": [0, 1]}}
    >>> annotation = {"result": [{"from_name": "label", "type": "choices",
    ...               "value": {"choices": ["1"]}}], "was_cancelled": False,
    ...               "created_at": "2024-05-01T12:00:00.500000Z", "lead_time": 4.2}
    >>> control = ChoiceControl("label", "x")
    >>> label_of(task, annotation, control, "ann@example.com", lead_time_cost=True)
    {'v': 1, 'id': 'e7', 'label': 1, 'annotator': 'ann@example.com', 'ts': 1714564800.5,
     'cost': 4.2}
    >>> label_of(task, {**annotation, "was_cancelled": True}, control, "ann", lead_time_cost=False)

    A numeric target's answer is the number given, sent as a JSON number:

    >>> number = [{"from_name": "label", "type": "number", "value": {"number": 4}}]
    >>> label_of(task, {**annotation, "result": number}, NumberControl("label", "x"), "ann",
    ...          lead_time_cost=False)["label"]
    4.0
    """
    if annotation.get("was_cancelled"):
        return None
    if isinstance(control, NumberControl):
        label = _number_of(annotation, control)
    else:
        label = _choice_of(task, annotation, control)
    if label is None:
        return None
    record = {
        "v": 1,
        "id": task["data"]["query_id"],
        "label": label,
        "annotator": annotator,
        "ts": _timestamp(annotation["created_at"]).timestamp(),
    }
    lead_time = annotation.get("lead_time")
    if lead_time_cost and isinstance(lead_time, int | float) and math.isfinite(lead_time):
        record["cost"] = max(float(lead_time), 0.0)
    return record


def _number_of(annotation: dict, control: NumberControl) -> float | None:
    """The finite number an annotation gives, read as the daemon reads a numeric answer."""
    for result in annotation.get("result") or ():
        if result.get("from_name") == control.name and result.get("type") == "number":
            number = coerce((result.get("value") or {}).get("number"), "float")
            if number is not None:
                return number
    return None


def _choice_of(task: dict, annotation: dict, control: ChoiceControl) -> Hashable | None:
    """The class an annotation chose, with its JSON type."""
    chosen = [
        choice
        for result in annotation.get("result") or ()
        if result.get("from_name") == control.name and result.get("type") == "choices"
        for choice in result.get("value", {}).get("choices", ())
    ]
    if not chosen:
        return None
    classes = task["data"].get("classes")
    return class_value(chosen[0], classes if isinstance(classes, list) else None)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Bridge:
    """One Label Studio project fed with queries and read for answers.

    Parameters
    ----------
    client
        The Label Studio API.
    project_id
        The project to use; without it, the project titled ``title``, created when
        there is none (with a number field for a numeric target, else the choices
        ``classes``, or those of the first query that names some).
    title
        The title of the project to use or create when no ``project_id`` is given.
    classes
        Choices the project must offer, besides those the queries name.
    ttl
        Seconds after its query's ``ts`` (on the clock of the newest query) that an
        unanswered task is deleted; ``inf`` keeps tasks.
    lead_time_cost
        Send the seconds a person spent on an annotation as the label's cost.
    numeric
        The target is a number (answered with a ``<Number>`` control). Without
        it, a project with a ``<Number>`` and no ``<Choices>``, or the first
        queries when the bridge creates the project, can make it so.
    """

    def __init__(
        self,
        client: LabelStudio,
        *,
        project_id: int | None = None,
        title: str = "streamal",
        classes: Sequence[str] = (),
        ttl: float = math.inf,
        lead_time_cost: bool = False,
        numeric: bool = False,
    ) -> None:
        self.client = client
        self.numeric = numeric
        self.title = title
        self.classes = list(classes)
        self.ttl = ttl
        self.lead_time_cost = lead_time_cost
        self.project_id: int | None = None
        self.label_config = ""
        self.control: ChoiceControl | NumberControl = ChoiceControl("", "")
        #: the query ids that have a task in the project
        self.known: set[str] = set()
        #: the newest query time seen: the clock tasks expire by
        self.clock = -math.inf
        self._changed_since: datetime | None = None
        self._annotators: dict[int, str] = {}
        if project_id is not None:
            try:
                self._use(client.request("GET", f"/api/projects/{project_id}/"))
            except LabelStudioError as e:
                if e.status == 404:
                    raise LabelStudioError(f"there is no project {project_id}", 404) from None
                raise
        else:
            project = _project_titled(client, title)
            if project is not None:
                self._use(project)
            elif self.numeric:
                self._use(_create_project(client, title, None))
            elif self.classes:
                self._use(_create_project(client, title, self.classes))

    def _use(self, project: dict) -> None:
        """Work on ``project``: read its control (choices or number) and its tasks' query ids."""
        # First the control: a project that cannot answer the queries is refused unwarned.
        control = control_of(project["label_config"], self.numeric)
        if project.get("sampling") != UNCERTAINTY_SAMPLING or (
            project.get("model_version") != MODEL_VERSION
        ):
            log.warning(
                "project %s serves tasks by %r with predictions of %r: set uncertainty sampling "
                "and model version %r to see the most useful query first",
                project["id"], project.get("sampling"), project.get("model_version"), MODEL_VERSION,
            )  # fmt: skip
        self.project_id = project["id"]
        self.label_config = project["label_config"]
        self.control = control
        self.numeric = isinstance(self.control, NumberControl)
        self.add_classes(self.classes)
        for task in self.client.tasks(self.project_id, fields="task_only"):
            query_id = task["data"].get("query_id")
            if isinstance(query_id, str):
                self.known.add(query_id)
                self._tick(task["data"].get("query_ts"))

    def _tick(self, ts: object) -> None:
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            self.clock = max(self.clock, float(ts))

    def add_classes(self, classes: Iterable[str]) -> None:
        """Add the choices among ``classes`` that the project does not have yet."""
        if isinstance(self.control, NumberControl):
            return  # a number answers: there are no choices
        new = [c for c in dict.fromkeys(classes) if c not in self.control.choices]
        if not new:
            return
        config = self.control.with_choices(self.label_config, new)
        self.client.request("PATCH", f"/api/projects/{self.project_id}/", {"label_config": config})
        self.label_config = config
        self.control.choices.extend(new)
        log.info("project %s: new classes %s", self.project_id, ", ".join(new))

    def add(self, queries: Iterable[Query]) -> int:
        """Make a task of every new, unexpired query; returns how many were made."""
        fresh: dict[str, Query] = {}
        for query in queries:
            self._tick(query.ts)
            fresh.setdefault(query.id, query)
        fresh = {i: q for i, q in fresh.items() if i not in self.known and not self._expired(q.ts)}
        if not fresh:
            return 0
        named = [c for q in fresh.values() for c in query_classes(q)]
        if self.project_id is None:
            if any(is_numeric_query(q) for q in fresh.values()):
                self.numeric = True
                self._use(_create_project(self.client, self.title, None))
            elif not named:
                raise LabelStudioError(
                    f"no project {self.title!r} yet, and these queries name no classes to make "
                    "it with (the model knows none yet): give --classes, or --task regression "
                    "for a numeric target"
                )
            else:
                self._use(_create_project(self.client, self.title, named))
        self.add_classes(named)
        tasks = [task_of(q, self.control) for q in fresh.values()]
        self.client.request("POST", f"/api/projects/{self.project_id}/import", tasks)
        self.known.update(fresh)
        return len(tasks)

    def _expired(self, ts: object) -> bool:
        return isinstance(ts, int | float) and ts < self.clock - self.ttl

    def answers(self) -> Iterator[tuple[dict, list[int], list[dict]]]:
        """``(task, annotation ids, label records)`` of each task with annotations not yet sent.

        At first every annotated task is read, then only those changed since the
        previous call. Call :meth:`reported` once the records are on the topic.
        """
        if self.project_id is None:
            return
        filters = [_filter("total_annotations", "greater", "Number", 0)]
        if self._changed_since is not None:
            since = (self._changed_since - _CHANGE_MARGIN).strftime(_FILTER_TIME)
            filters.append(_filter("updated_at", "greater", "Datetime", since))
        newest = self._changed_since
        for task in self.client.tasks(self.project_id, filters):
            changed = _timestamp(task["updated_at"])
            newest = changed if newest is None else max(newest, changed)
            if not isinstance(task["data"].get("query_id"), str):
                continue  # a task someone else put in the project
            done = set((task.get("meta") or {}).get(META_KEY, {}).get("reported", ()))
            new = [a for a in task.get("annotations") or () if a["id"] not in done]
            if not new:
                continue
            records = [
                label_of(task, a, self.control, self._annotator(a), self.lead_time_cost)
                for a in new
            ]
            yield task, [a["id"] for a in new], [r for r in records if r is not None]
        self._changed_since = newest

    def reported(self, task: dict, annotation_ids: Iterable[int]) -> None:
        """Record in the task's meta that its annotations ``annotation_ids`` have been sent."""
        meta = dict(task.get("meta") or {})
        mine = dict(meta.get(META_KEY) or {})
        mine["reported"] = sorted({*mine.get("reported", ()), *annotation_ids})
        meta[META_KEY] = mine
        self.client.request("PATCH", f"/api/tasks/{task['id']}/", {"meta": meta})

    def _annotator(self, annotation: dict) -> str:
        user_id = annotation.get("completed_by")
        if isinstance(user_id, dict):  # some versions expand the user
            user_id = user_id.get("id")
        if user_id not in self._annotators:
            try:
                user = self.client.request("GET", f"/api/users/{user_id}/")
                name = user.get("email") or user.get("username") or f"user {user_id}"
            except LabelStudioError as e:
                if e.status is None:
                    raise
                name = f"user {user_id}"  # a token not allowed to read users
            self._annotators[user_id] = name
        return self._annotators[user_id]

    def expire(self) -> int:
        """Delete the unanswered tasks of expired queries; returns how many."""
        if self.project_id is None or not (math.isfinite(self.ttl) and math.isfinite(self.clock)):
            return 0
        filters = {
            "conjunction": "and",
            "items": [
                _filter("data.query_ts", "less", "Number", self.clock - self.ttl),
                _filter("total_annotations", "equal", "Number", 0),
            ],
        }
        body = {"filters": filters, "selectedItems": {"all": True, "excluded": []}}
        params = {"id": "delete_tasks", "project": self.project_id}
        answer = self.client.request("POST", "/api/dm/actions", body, params)
        return int((answer or {}).get("processed_items", 0))


def _project_titled(client: LabelStudio, title: str) -> dict | None:
    page = 1
    while True:
        try:
            answer = client.request(
                "GET", "/api/projects/", params={"title": title, "page": page, "page_size": 100}
            )
        except LabelStudioError as e:
            if e.status == 404:  # past the last page
                return None
            raise
        projects = answer["results"] if isinstance(answer, dict) else answer
        same = [p for p in projects if p["title"] == title]
        if same:
            found = min(same, key=lambda p: p["id"])
            return client.request("GET", f"/api/projects/{found['id']}/")
        if not isinstance(answer, dict) or not answer.get("next"):
            return None
        page += 1


def _create_project(client: LabelStudio, title: str, classes: Sequence[str] | None) -> dict:
    """Create the project ``title``: choices of ``classes``, or for ``None`` a number field."""
    config = number_config() if classes is None else label_config(list(dict.fromkeys(classes)))
    project = {
        "title": title,
        "description": "Queries of streamal, most useful first; answers go to its labels topic.",
        "label_config": config,
        "sampling": UNCERTAINTY_SAMPLING,
        "model_version": MODEL_VERSION,
    }
    created = client.request("POST", "/api/projects/", project)
    log.info("created project %s %r", created["id"], title)
    return created


def run_bridge(
    bridge: Bridge,
    queries: KafkaConsumer,
    send: Callable[[list[dict]], None],
    stop: threading.Event,
    poll_interval: float = 2.0,
) -> None:
    """Feed ``bridge`` from the ``queries`` consumer and ``send`` its labels, until ``stop``.

    Offsets are committed after the batch's tasks are in Label Studio; when
    Label Studio cannot take them, the batch is read again after a pause.
    ``send`` returns once Kafka has the records. Label Studio or Kafka being
    away is logged and tried again, never fatal.
    """
    next_look = 0.0
    while not stop.is_set():
        try:
            _feed(bridge, queries)
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + poll_interval
                _collect(bridge, send)
        except (LabelStudioError, KafkaError) as e:
            log.warning("%s; trying again in %g s", e, _RETRY_SECONDS)
            stop.wait(_RETRY_SECONDS)


def _feed(bridge: Bridge, queries: KafkaConsumer) -> None:
    batch = queries.poll(timeout_ms=200)
    if not batch:
        return
    try:
        made = bridge.add(_decoded(r for records in batch.values() for r in records))
    except LabelStudioError:
        for partition, records in batch.items():
            queries.seek(partition, records[0].offset)  # read them again next time
        raise
    queries.commit()
    if made:
        log.info("%d new tasks", made)


def _collect(bridge: Bridge, send: Callable[[list[dict]], None]) -> None:
    for task, annotation_ids, labels in bridge.answers():
        if labels:
            send(labels)
            log.info("sent %d labels of task %s", len(labels), task["id"])
        bridge.reported(task, annotation_ids)
    expired = bridge.expire()
    if expired:
        log.info("deleted %d tasks of expired queries", expired)


def _decoded(records: Iterable[Any]) -> Iterator[Query]:
    for record in records:
        try:
            yield decode_query(record.value or b"")
        except InvalidRecord as e:
            log.warning("skipped a record at offset %d that is not a query (%s)", record.offset, e)
