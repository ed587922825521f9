"""Readers of recorded, labeled streams: CSV or JSON Lines, optionally gzipped."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path

import orjson

from streamal.replay import Row

__all__ = ["RecordingError", "read_recording"]


class RecordingError(ValueError):
    """A recorded stream that cannot be replayed; the message names the file and line."""


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".tsv"):
        return last[1:]
    if last in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise RecordingError(f"{path}: unknown format; use .csv, .tsv or .jsonl (optionally .gz)")


def _time_value(raw: object, where: str) -> float:
    if isinstance(raw, bool):
        raise RecordingError(f"{where}: time {raw!r} is not a number or an ISO 8601 date")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            try:
                value = dt.datetime.fromisoformat(str(raw)).timestamp()
            except ValueError:
                raise RecordingError(
                    f"{where}: time {raw!r} is not a number or an ISO 8601 date"
                ) from None
    if not math.isfinite(value):
        raise RecordingError(f"{where}: time {raw!r} is not finite")
    return value


def _cell_value(text: str) -> float | str:
    """The number in a CSV cell, or its text (NaN and infinity count as numbers: refused later).

    >>> _cell_value("1e3"), _cell_value(" -2 "), _cell_value("nan"), _cell_value("x1")
    (1000.0, -2.0, nan, 'x1')
    """
    try:
        return float(text)
    except ValueError:
        return text


def _csv_rows(path: Path, delimiter: str, needed: dict[str, str]) -> Iterator[tuple[int, dict]]:
    """Rows of a CSV or TSV file as ``(line, {column: value})``, empty cells left out.

    ``needed`` maps the columns every row must fill to what they hold ("label",
    "id", "time"); the id and time are kept as text. Every other column is
    numeric if all its cells are numbers and text if none is; one with both is
    refused, whichever comes first, so no row's order decides a column's type.
    """
    with _open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise RecordingError(f"{path}: empty file (no header row)")
        for name in header:
            if header.count(name) > 1:
                raise RecordingError(f"{path}:1: column {name!r} appears twice in the header")
        for name, what in needed.items():
            if name not in header:
                raise RecordingError(
                    f"{path}: no {what} column {name!r} (the header has: {', '.join(header)})"
                )
        as_text = {name for name, what in needed.items() if what in ("id", "time")}
        # Each column's first cell (line, text, whether it is text), which the others must match.
        first: dict[str, tuple[int, str, bool]] = {}
        for cells in reader:
            if not cells:
                continue  # a blank line
            line = reader.line_num
            if len(cells) != len(header):
                raise RecordingError(
                    f"{path}:{line}: {len(cells)} cells, the header has {len(header)}"
                )
            parsed: dict[str, str | float] = {}
            for name, raw in zip(header, cells, strict=True):
                if raw == "":
                    if name in needed:
                        raise RecordingError(
                            f"{path}:{line}: empty {needed[name]} in column {name!r}"
                        )
                    continue
                if name in as_text:
                    parsed[name] = raw
                    continue
                value = _cell_value(raw)
                is_text = isinstance(value, str)
                seen = first.get(name)
                if seen is None:
                    first[name] = (line, raw, is_text)
                elif seen[2] != is_text:
                    raise RecordingError(
                        f"{path}:{line}: column {name!r} mixes numbers and text: {raw!r} here, "
                        f"{seen[1]!r} on line {seen[0]} (a CSV column is all numbers or "
                        "all text; leave a missing value empty)"
                    )
                parsed[name] = value
            yield line, parsed


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with _open_text(path) as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                row = orjson.loads(text)
            except orjson.JSONDecodeError as e:
                raise RecordingError(f"{path}:{line}: not valid JSON ({e})") from None
            if not isinstance(row, dict):
                raise RecordingError(f"{path}:{line}: expected a JSON object")
            # The daemon's message shape, {"id":…, "x": {…}}, is accepted as well as flat rows.
            features = row.pop("x", None)
            if isinstance(features, dict):
                row = {**features, **row}
            yield line, row


def read_recording(
    path: str | Path,
    *,
    target: str = "y",
    id_column: str | None = None,
    time_column: str | None = None,
) -> list[Row]:
    """Read every row of a recorded stream, checking it as it goes.

    Features must be finite numbers or strings. In a CSV or TSV file a column
    is numeric when every non-empty cell in it is a number and text when none
    is; a column with both is an error wherever the text is, as is a row with
    more or fewer cells than the header, or an empty label, id or time cell.
    An empty feature cell is a missing feature. Without an id column the row
    number is the id; without a time column it is the time.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    kind = _format_of(path)
    if kind == "jsonl":
        rows = _jsonl_rows(path)
    else:
        roles = ((target, "label"), (id_column, "id"), (time_column, "time"))
        needed = {column: what for column, what in roles if column is not None}
        rows = _csv_rows(path, "," if kind == "csv" else "\t", needed)
    records = []
    ids: set[str] = set()
    try:
        for line, row in rows:
            where = f"{path}:{line}"
            if target not in row:
                raise RecordingError(f"{where}: no label column {target!r} (use --target)")
            y = row.pop(target)
            if not isinstance(y, str | int | float | bool) or (
                isinstance(y, float) and not math.isfinite(y)
            ):
                raise RecordingError(f"{where}: label {y!r} is not a string, number or boolean")
            if isinstance(y, float) and y.is_integer():
                y = int(y)  # a CSV "1" and a JSON 1 are the same class
            if id_column is not None:
                if id_column not in row:
                    raise RecordingError(f"{where}: no id column {id_column!r}")
                rid = str(row.pop(id_column))
            else:
                rid = str(len(records))
            if rid in ids:
                raise RecordingError(f"{where}: id {rid!r} appears twice")
            ids.add(rid)
            if time_column is not None:
                if time_column not in row:
                    raise RecordingError(f"{where}: no time column {time_column!r}")
                ts = _time_value(row.pop(time_column), where)
            else:
                ts = float(len(records))
            for name, value in row.items():
                if isinstance(value, bool):
                    row[name] = float(value)
                elif isinstance(value, int | float):
                    if not math.isfinite(value):
                        raise RecordingError(f"{where}: feature {name!r} is {value!r}")
                elif not isinstance(value, str):
                    raise RecordingError(
                        f"{where}: feature {name!r} must be a number or a string, got {value!r}"
                    )
            records.append(Row(id=rid, x=row, ts=ts, y=y))
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not UTF-8 text") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise RecordingError(f"{path}: cannot read ({e})") from None
    if not records:
        raise RecordingError(f"{path}: no records")
    return records


def _bundled_datasets() -> dict[str, type]:
    """river's datasets that ship inside it (no download) and replay can score."""
    from river import datasets
    from river.datasets import base

    tasks = (base.BINARY_CLF, base.MULTI_CLF, base.REG)
    found = {}
    for name in datasets.__all__:
        cls = getattr(datasets, name)
        if (
            isinstance(cls, type)
            and issubclass(cls, base.FileDataset)
            and not issubclass(cls, base.RemoteDataset)  # those download at first use
            and cls().task in tasks
        ):
            found[name] = cls
    return found


def read_river_dataset(name: str) -> list[Row]:
    """The rows of a classification or regression dataset that ships inside river (no download).

    >>> rows = read_river_dataset("Phishing")
    >>> len(rows), rows[0].y
    (1250, True)
    >>> rows = read_river_dataset("TrumpApproval")
    >>> len(rows), round(rows[0].y, 2)
    (1001, 43.76)
    """
    bundled = _bundled_datasets()
    if name not in bundled:
        raise RecordingError(
            f"river:{name} is not a classification or regression dataset bundled with river "
            f"(try: {', '.join(sorted(bundled))})"
        )
    dataset = bundled[name]()
    return [Row(id=str(i), x=dict(x), ts=float(i), y=y) for i, (x, y) in enumerate(dataset)]
