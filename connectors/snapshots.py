"""`SnapshotStore`: signed snapshots on disk, written atomically, the last few kept.

A snapshot is written to a temporary file, fsynced, renamed into place and
the directory fsynced, so a crash leaves either the old file or the new one,
never half of one. The previous snapshots are kept so that a damaged newest
one falls back to the one before.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from streamal.snapshot import Snapshot, SnapshotError, dump_snapshot, load_snapshot

__all__ = ["KEY_ENV", "SnapshotStore", "snapshot_key"]

log = logging.getLogger("streamal.snapshot")

#: The secret that signs snapshots; without it a key file is made in the state directory.
KEY_ENV = "STREAMAL_SNAPSHOT_KEY"
KEY_FILE = "snapshot.key"
_NAME = re.compile(r"^snapshot-(\d{12})\.bin$")


def snapshot_key(state_dir: Path, environ: Mapping[str, str]) -> bytes:
    """The signing key: ``STREAMAL_SNAPSHOT_KEY``, else a random key kept in ``state_dir``.

    The key file is created readable by its owner only; a key file that
    others can read is refused, since with it they could sign a snapshot.
    """
    secret = environ.get(KEY_ENV)
    if secret:
        return secret.encode()
    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise SnapshotError(
                f"{path} can be read by others; chmod 600 it or set {KEY_ENV}"
            ) from None
        return path.read_bytes()
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotStore:
    """Numbered snapshot files in ``state_dir``; the highest number is the newest.

    Examples
    --------

    >>> import tempfile
    >>> from streamal.decider import Decider
    >>> from streamal.engine import Engine
    >>> from streamal.training import TrainingFold
    >>> store = SnapshotStore(tempfile.mkdtemp(), key=b"secret")
    >>> fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider()))
    >>> for offset in (10, 20):
    ...     _ = store.save(Snapshot(fold, {"events": {0: offset}}))
    >>> store.newest()[0].offsets
    {'events': {0: 20}}

    """

    def __init__(self, state_dir: str | Path, key: bytes, keep: int = 3) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.keep = keep

    def files(self) -> list[Path]:
        """Snapshot files, newest first."""
        found = [p for p in self.dir.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: p.name, reverse=True)

    def save(self, snapshot: Snapshot) -> Path:
        """Write ``snapshot`` durably; returns its path once it is on disk."""
        files = self.files()
        number = int(_NAME.match(files[0].name).group(1)) + 1 if files else 1
        path = self.dir / f"snapshot-{number:012d}.bin"
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as f:
            f.write(dump_snapshot(snapshot, self.key))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        _fsync_dir(self.dir)
        for old in files[self.keep - 1 :]:
            old.unlink(missing_ok=True)
        return path

    def newest(self) -> tuple[Snapshot | None, Path | None]:
        """The newest snapshot that passes its checks, logging why newer ones were refused."""
        for path in self.files():
            try:
                return load_snapshot(path.read_bytes(), self.key), path
            except SnapshotError as e:
                log.error("refusing snapshot %s: %s; trying the previous one", path, e)
            except OSError as e:
                log.error("cannot read snapshot %s: %s; trying the previous one", path, e)
        return None, None
