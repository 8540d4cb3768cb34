"""Open files shared per process, under a budget; local copies of gzip/bzip2 files.

* :class:`HandleCache` keeps input files open (plain descriptors for positioned reads,
  astropy ``HDUList`` objects for tile-compressed images) and closes the least recently
  used beyond the *open-file budget*, so thousands of inputs never exhaust descriptors.
* A whole-file compressed input (``.fits.gz``, ``.fits.bz2``) cannot be read at an
  offset: :func:`local_copy` decompresses it once per process, streaming, into a private
  temporary file (removed at exit) that is then read like any plain file. The cost is
  one sequential decompression per file and process and the disk space of the
  uncompressed file (see ``docs/memory.md``).
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
from typing import Any, Callable

import numpy as np

__all__ = ["HandleCache", "CACHE", "handle_key", "set_open_file_budget", "get_open_file_budget", "close_all",
           "container_of", "local_copy"]


def _default_budget() -> int:
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 4096
    except Exception:  # pragma: no cover - non-POSIX
        soft = 1024
    # leave most descriptors to the rest of the process (sockets, zarr, logs)
    return int(max(8, min(256, soft // 4)))


class HandleCache:
    """Per-process LRU of open files (plain descriptors or astropy HDULists).

    Entries in use by a reader are never closed under it: eviction skips them, so the
    budget can be exceeded briefly by at most the number of threads reading at once.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple, list[Any]] = collections.OrderedDict()
        self.opens = 0  # statistics (tests)

    def acquire(self, key: tuple, opener: Callable[[], Any]) -> tuple[Any, threading.Lock]:
        """The open handle for ``key`` (opened with ``opener`` if needed) and its lock."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry[1] += 1
                return entry[0], entry[2]
        handle = opener()
        with self._lock:
            self.opens += 1
            entry = self._entries.get(key)
            if entry is not None:  # another thread opened it meanwhile
                _close_handle(handle)
                entry[1] += 1
                self._entries.move_to_end(key)
                return entry[0], entry[2]
            entry = [handle, 1, threading.Lock()]
            self._entries[key] = entry
            self._evict_locked()
            return handle, entry[2]

    def release(self, key: tuple) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry[1] -= 1
            self._evict_locked()

    def _evict_locked(self) -> None:
        if len(self._entries) <= self.budget:
            return
        for key in list(self._entries):
            if len(self._entries) <= self.budget:
                break
            entry = self._entries[key]
            if entry[1] <= 0:
                del self._entries[key]
                _close_handle(entry[0])

    def close_all(self) -> None:
        with self._lock:
            for key in list(self._entries):
                entry = self._entries[key]
                if entry[1] <= 0:
                    del self._entries[key]
                    _close_handle(entry[0])

    def __len__(self) -> int:
        return len(self._entries)


def handle_key(kind: str, path: str) -> tuple[str, str, int, int, int, int]:
    """The cache key of a ``kind`` handle (``"fd"``, ``"direct"``, ``"hdul"``) of ``path``.

    It holds the file's identity (device, inode, size, modification time): a file replaced
    or rewritten since a handle was opened (an output written again under the same name,
    then read in the same process) gets a handle of its own instead of being read
    through a descriptor of its old content. The old handle is closed by the LRU.
    """
    st = os.stat(path)
    return (kind, path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _close_handle(handle: Any) -> None:
    try:
        if isinstance(handle, int):
            os.close(handle)
        else:
            handle.close()
    except Exception:  # closing must never mask the real work
        pass


CACHE = HandleCache(_default_budget())


def set_open_file_budget(n: int) -> None:
    """Set the maximum number of input files kept open per process.

    Parameters
    ----------
    n : int
        At least 1.  Files beyond the budget are closed least-recently-used
        first and reopened when needed.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"open-file budget must be a positive integer, got {n!r}")
    CACHE.budget = int(n)
    with CACHE._lock:
        CACHE._evict_locked()


def get_open_file_budget() -> int:
    """Current open-file budget of this process."""
    return CACHE.budget


def close_all() -> None:
    """Close every cached input file of this process that is not being read."""
    CACHE.close_all()


# --------------------------------------------------------------------------
# whole-file compression (gzip, bzip2)
# --------------------------------------------------------------------------

def _opener(container: str) -> Callable[..., Any]:
    """``open`` of a compressed container (imported only when such a file is read)."""
    if container == "gzip":
        import gzip

        return gzip.open
    import bz2

    return bz2.open


def container_of(path: str) -> str:
    """``"gzip"``, ``"bzip2"`` or ``""`` (a plain file), from the file's first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(3)
    except IsADirectoryError:
        return ""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:2] == b"\x1f\x9d":
        raise ValueError(f"{path}: LZW-compressed file (.Z); decompress it first (uncompress or gzip -d)")
    if head[:4] == b"PK\x03\x04":
        raise ValueError(f"{path}: a zip archive; extract the FITS file first")
    return ""


class _LocalCopies:
    """Decompressed copies of compressed inputs, one per (path, size, mtime) and process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[tuple[str, int, int], str] = {}
        self._dir: str | None = None
        self._pid = os.getpid()

    def _directory(self) -> str:
        import tempfile

        if self._dir is None or self._pid != os.getpid():  # forked: own copies
            self._copies, self._pid = {}, os.getpid()
            base = os.environ.get("IMCOMBINERS_TMPDIR") or None
            self._dir = tempfile.mkdtemp(prefix="imcombiners-decompressed-", dir=base)
        return self._dir

    def get(self, path: str, container: str) -> str:
        st = os.stat(path)
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._copies.get(key)
            if hit is not None and os.path.exists(hit):
                return hit
            import shutil
            import tempfile

            directory = self._directory()
            fd, tmp = tempfile.mkstemp(suffix=".fits", dir=directory)
            try:
                with os.fdopen(fd, "wb") as dst, _opener(container)(path, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, EOFError, ValueError) as exc:
                os.unlink(tmp)
                raise ValueError(f"{path}: cannot decompress this {container} file: {exc}") from exc
            self._copies[key] = tmp
            return tmp

    def clear(self) -> None:
        with self._lock:
            if self._dir is not None and self._pid == os.getpid():
                import shutil

                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._copies = None, {}


_COPIES = _LocalCopies()
atexit.register(_COPIES.clear)


def local_copy(path: str, container: str) -> str:
    """A readable plain FITS file with the content of ``path`` (itself when not compressed)."""
    if not container:
        return path
    return _COPIES.get(path, container)


def clear_local_copies() -> None:
    """Remove this process's decompressed copies (they are made again when needed)."""
    _COPIES.clear()
