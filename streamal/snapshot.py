"""Snapshots of the daemon's state as authenticated bytes.

A snapshot holds the engine (model, decider state, pending queries), the
training fold's memory, the next offset of every consumed partition and the
counters. It is a pickle, and unpickling runs code named in the data, so a
snapshot is only unpickled after its HMAC-SHA256, keyed with a secret only
the daemon knows, has been checked: a file the daemon did not write is
refused, as is a corrupt or truncated one. Writing the bytes to disk is the
shell's job (``connectors/snapshots.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import struct
from dataclasses import MISSING, dataclass, field, fields

from streamal.deployed_accuracy import DeployedAccuracy
from streamal.deployed_error import DeployedError
from streamal.engine import Engine
from streamal.training import TrainingFold

__all__ = ["MAGIC", "Snapshot", "SnapshotError", "dump_snapshot", "load_snapshot"]

MAGIC = b"STREAMAL-SNAP\x00\x01\n"
_HEADER = struct.Struct(">16sQ32s")  # magic, payload length, HMAC-SHA256 tag


class SnapshotError(ValueError):
    """A snapshot that must not be used; the message says what is wrong with it."""


@dataclass(slots=True)
class Snapshot:
    """What a daemon needs to resume exactly where it left off."""

    fold: TrainingFold
    #: ``{topic: {partition: next offset to read}}``
    offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    #: ``{partition: next offset}`` of the queries topic after the last query this state holds
    queries_written: dict[int, int] = field(default_factory=dict)
    #: wall-clock time of writing, seconds since the epoch
    written_at: float = 0.0
    #: ``{events partition: next offset}`` up to which the queries topic shows the events
    #: decided (by any replica): one read again below it is not decided again
    decided: dict[int, int] = field(default_factory=dict)
    #: ``{events partition: offset}`` before which the queries topic shows the events handled
    #: and their output delivered (by any replica): a partition taken over resumes there
    delivered: dict[int, int] = field(default_factory=dict)
    #: the deployed-accuracy estimate over the events and answers this state has seen
    deployed: DeployedAccuracy = field(default_factory=DeployedAccuracy)
    #: a numeric target's deployed-error estimate, likewise
    deployed_error: DeployedError = field(default_factory=DeployedError)

    def __getstate__(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list) -> None:
        # A snapshot from before a field was added holds fewer values: the rest take defaults.
        for i, f in enumerate(fields(self)):
            if i < len(state):
                value = state[i]
            else:
                value = f.default_factory() if f.default is MISSING else f.default
            object.__setattr__(self, f.name, value)

    @property
    def engine(self) -> Engine:
        return self.fold.engine


def _tag(key: bytes, length: int, payload: bytes) -> bytes:
    mac = hmac.new(key, MAGIC + struct.pack(">Q", length), hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def dump_snapshot(snapshot: Snapshot, key: bytes) -> bytes:
    """Serialize and sign ``snapshot``.

    Examples
    --------

    >>> from streamal.decider import Decider
    >>> from streamal.engine import Engine
    >>> fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("split", 0.1)))
    >>> data = dump_snapshot(Snapshot(fold, {"streamal.events": {0: 42}}), b"secret")
    >>> load_snapshot(data, b"secret").offsets
    {'streamal.events': {0: 42}}
    >>> load_snapshot(data[:-1], b"secret")
    Traceback (most recent call last):
    ...
    streamal.snapshot.SnapshotError: truncated: ... of ... bytes
    >>> load_snapshot(data, b"another daemon's key")
    Traceback (most recent call last):
    ...
    streamal.snapshot.SnapshotError: not signed with this daemon's key, or corrupt: ...

    """
    payload = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(MAGIC, len(payload), _tag(key, len(payload), payload)) + payload


def load_snapshot(data: bytes, key: bytes) -> Snapshot:
    """Check the signature of ``data`` and only then unpickle it."""
    if len(data) < _HEADER.size or not data.startswith(MAGIC):
        raise SnapshotError("not a streamal snapshot (bad header)")
    _, length, tag = _HEADER.unpack_from(data)
    payload = data[_HEADER.size :]
    if len(payload) != length:
        raise SnapshotError(f"truncated: {len(payload)} of {length} bytes")
    if not hmac.compare_digest(tag, _tag(key, length, payload)):
        raise SnapshotError("not signed with this daemon's key, or corrupt: refusing to load it")
    snapshot = pickle.loads(payload)
    if not isinstance(snapshot, Snapshot):
        raise SnapshotError(f"holds a {type(snapshot).__name__}, not a snapshot")
    return snapshot
