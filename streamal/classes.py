"""`ClassSchema`: the label type and the known classes, and the one rule that reads an answer.

Labels come from people through tools, and most tools send JSON strings: a
person who types ``false``, ``False`` or accepts a guess shown as ``false``
means the class ``False`` of a boolean stream, not three new classes. Before
a label reaches the model it is read against the schema:

* the **type** of the classes is ``bool``, ``int`` or ``str``: given by
  ``--classes`` (``true,false`` is boolean, ``0,1,2`` integer, anything else
  text), or else taken from the first label: a JSON boolean, or a string
  ``true``/``false`` in any case, is boolean; a JSON integer, or a string
  that spells one as Python writes it (``"3"``, not ``"03"``), is integer;
  anything else is text. It is kept in the snapshot with the engine;
* an answer is **coerced** to that type by :func:`coerce`: for ``bool``,
  ``true``/``false``/``1``/``0``/``yes``/``no`` in any case, as JSON
  booleans, numbers or strings; for ``int``, integers, whole floats and
  strings that spell one (``"3"``, ``" 3 "``, ``"3.0"``), never a boolean;
  for ``str``, the text itself, matched to a known class exactly, else
  ignoring case and surrounding blanks when that names one class only
  (``"Spam "`` is ``"spam"``); numbers become their decimal text;
* an answer that cannot be read as the type, or (with fixed classes) names
  no known class, is refused with reason ``unknown_class``.

A numeric target (regression, ``--task regression``) has type ``float``: an
answer is a finite number, as a JSON number or a string that spells one
(``"3.5"``, ``" 1e3 "``), never a boolean; anything else is refused with
reason ``not_a_number``. Numbers are no classes: none is remembered.

Classes given with ``--classes`` are **fixed**: an unknown answer is a
labeling mistake, and it would otherwise become a class of its own that the
model then predicts. Without ``--classes`` the classes are learned as they
come (the type still is fixed by the first label): a stream whose classes
are not known in advance must not lose its first example of a new one.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

__all__ = ["ClassSchema", "NotANumber", "UnknownClass", "coerce", "kind_of", "parse_classes"]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class UnknownClass(ValueError):
    """An answer that is no class of the stream; the message says what was expected."""


class NotANumber(UnknownClass):
    """An answer to a numeric target that is no finite number."""


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) and number.is_integer() else None
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _as_str(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


_READERS = {"bool": _as_bool, "int": _as_int, "str": _as_str, "float": _as_float}


def coerce(value: object, kind: str) -> Hashable | None:
    """``value`` read as a class of type ``kind``, or ``None`` when it cannot be.

    >>> [coerce(v, "bool") for v in (True, "true", "True", 1, "0", "No", "maybe", 2)]
    [True, True, True, True, False, False, None, None]
    >>> [coerce(v, "int") for v in (3, "3", " 3 ", 3.0, "3.0", True, "3.5", "three")]
    [3, 3, 3, 3, 3, None, None, None]
    >>> [coerce(v, "str") for v in ("spam", 7, False)]
    ['spam', '7', 'false']
    >>> [coerce(v, "float") for v in (3, "3.5", " 1e3 ", True, "nan", 1e400, "three")]
    [3.0, 3.5, 1000.0, None, None, None, None]

    """
    return _READERS[kind](value)


def parse_classes(text: str) -> tuple[Hashable, ...]:
    """``--classes``: comma-separated names, typed as a whole (boolean, integer or text).

    >>> parse_classes("true,false"), parse_classes("0, 1,2"), parse_classes("spam,ham")
    ((True, False), (0, 1, 2), ('spam', 'ham'))
    >>> parse_classes("a,,b")
    Traceback (most recent call last):
    ...
    ValueError: an empty name in 'a,,b'

    """
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise ValueError(f"an empty name in {text!r}")
    # Only true/false names booleans: "1,0" means integers, "yes,no" may be text classes.
    if all(name.lower() in ("true", "false") for name in names):
        return _unique([coerce(name, "bool") for name in names], text)
    integers = [coerce(name, "int") for name in names]
    if all(i is not None for i in integers):
        return _unique(integers, text)
    return _unique(names, text)


def _unique(classes: Sequence[Hashable], text: str) -> tuple[Hashable, ...]:
    if len(set(classes)) < len(classes):
        raise ValueError(f"a class is named twice in {text!r}")
    return tuple(classes)


@dataclass(slots=True)
class ClassSchema:
    """The classes of a stream: their type, the ones known, and whether more may come.

    Parameters
    ----------
    classes
        The known classes; with ``fixed``, the only ones an answer may name.
    fixed
        Refuse an answer naming no known class (``--classes`` given).

    Examples
    --------

    >>> schema = ClassSchema()  # learned from the labels
    >>> schema.read(False), schema.read("false"), schema.read("True"), schema.read(1)
    (False, False, True, True)
    >>> schema.kind, schema.classes
    ('bool', [False, True])
    >>> schema.read("maybe")
    Traceback (most recent call last):
    ...
    streamal.classes.UnknownClass: 'maybe' is not a boolean class (true/false, 1/0 or yes/no)
    >>> fixed = ClassSchema(["spam", "ham"], fixed=True)
    >>> fixed.read(" Spam"), fixed.read("ham")
    ('spam', 'ham')
    >>> fixed.read("eggs")
    Traceback (most recent call last):
    ...
    streamal.classes.UnknownClass: 'eggs' is none of the classes: 'spam', 'ham'
    >>> numbers = ClassSchema(kind="float")  # a numeric target
    >>> numbers.read("2.5"), numbers.read(3), numbers.classes
    (2.5, 3.0, [])
    >>> numbers.read("false")
    Traceback (most recent call last):
    ...
    streamal.classes.NotANumber: 'false' is not a number (a finite number, e.g. 2.5)

    """

    classes: list[Hashable] = field(default_factory=list)
    fixed: bool = False
    #: ``bool``, ``int`` or ``str``; ``None`` until the classes or a first label say;
    #: ``float`` for a numeric target
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.classes and self.kind is None:
            self.kind = kind_of(self.classes[0])
        self.classes = [self._typed(c) for c in self.classes]
        if self.fixed and not self.classes:
            raise ValueError("fixed classes need at least one class")

    def _typed(self, value: Hashable) -> Hashable:
        assert self.kind is not None
        typed = coerce(value, self.kind)
        if typed is None:
            raise ValueError(f"class {value!r} is not of type {self.kind}")
        return typed

    @property
    def numeric(self) -> bool:
        """Whether the target is a number rather than a class."""
        return self.kind == "float"

    def observe(self, y: Hashable) -> None:
        """Know ``y``, a class already read (from the training log), even beyond fixed classes."""
        if self.kind is None:
            self.kind = kind_of(y)
        if not self.numeric and y not in self.classes:
            self.classes.append(y)

    def read(self, value: object) -> Hashable:
        """The class ``value`` names, learning a new one unless the classes are fixed."""
        if self.kind is None:
            self.kind = kind_of(value)
        typed = coerce(value, self.kind)
        if self.numeric:
            if typed is None:
                raise NotANumber(f"{_show(value)} is not a number (a finite number, e.g. 2.5)")
            return typed
        if typed is None:
            kind = self.kind
            raise UnknownClass(f"{_show(value)} is not {_NOUNS[kind]} class{_HINTS[kind]}")
        if typed in self.classes:
            return typed
        if self.kind == "str":
            folded = [c for c in self.classes if c.strip().casefold() == typed.strip().casefold()]
            if len(folded) == 1:
                return folded[0]
        if self.fixed:
            known = ", ".join(_show(c) for c in self.classes)
            raise UnknownClass(f"{_show(value)} is none of the classes: {known}")
        self.classes.append(typed)
        return typed


_NOUNS = {"bool": "a boolean", "int": "an integer", "str": "a text"}
_HINTS = {"bool": " (true/false, 1/0 or yes/no)", "int": "", "str": ""}


def kind_of(value: object) -> str:
    """The type a first answer implies: what it spells, read strictly.

    >>> [kind_of(v) for v in (True, "False", 3, "3", "03", "1.5", "yes")]
    ['bool', 'bool', 'int', 'int', 'str', 'str', 'str']

    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return "int"
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return "bool"
        # Only a number written as Python writes it: "03" or "+3" keep their spelling as text.
        number = _as_int(text)
        if number is not None and str(number) == text:
            return "int"
    return "str"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
