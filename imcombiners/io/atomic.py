"""Atomic output files: write under a temporary name, rename when complete.

A failed or interrupted run must never leave a half-written product under the
final name (a pipeline would happily pick it up).  Everything is written to a
hidden sibling file in the same directory (so :func:`os.replace` is an atomic
rename on the same filesystem) and only renamed once all data are on disk.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

__all__ = ["atomic_path", "temporary_sibling", "commit", "discard"]


def temporary_sibling(path: str | os.PathLike[str]) -> str:
    """Return a unique hidden temporary name next to ``path``.

    Parameters
    ----------
    path : str or path-like
        The final output name.

    Returns
    -------
    str
        ``<dir>/.<name>.<random>.part`` in the directory of ``path``.
    """
    text = os.fspath(path)
    folder, name = os.path.split(text.rstrip(os.sep) or text)  # as pathlib: 'out.fits/' names out.fits
    # 48 random bits, as uuid4().hex[:12] gave (os.urandom: no uuid module to import)
    return os.path.join(folder, f".{name}.{os.urandom(6).hex()}.part")


def _fsync_path(path: str) -> None:
    """Flush a file (or every file of a directory tree) to stable storage."""
    if os.path.isdir(path):
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_path(os.path.join(root, name))
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(tmp: str) -> None:
    """Remove a temporary output (file or directory) if it exists."""
    if os.path.isdir(tmp) and not os.path.islink(tmp):
        # Tasks still in flight when a run fails may write a last chunk into a directory
        # store after the first removal: retry until it stays gone (bounded, ~2 s).
        import shutil  # only for directory outputs (zarr): a FITS run does not load it

        for _ in range(40):
            shutil.rmtree(tmp, ignore_errors=True)
            if not os.path.lexists(tmp):
                break
            time.sleep(0.05)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def commit(tmp: str, final: str | os.PathLike[str], *, overwrite: bool = True) -> None:
    """Flush ``tmp`` and move it to ``final`` atomically.

    Parameters
    ----------
    tmp : str
        Temporary file or directory (e.g. a zarr store) written completely.
    final : str or path-like
        Final name.  An existing file is replaced atomically; an existing
        directory is removed first (directories cannot be swapped atomically).
    overwrite : bool
        If False and ``final`` exists, raise :class:`FileExistsError`.
    """
    final = os.fspath(final)
    if os.path.lexists(final):
        if not overwrite:
            raise FileExistsError(f"output {final!r} exists; pass overwrite=True to replace it")
        if os.path.isdir(final) and not os.path.islink(final):
            # reliability: a file output never deletes a directory (a mistyped -o DIR
            # with --overwrite would otherwise wipe the directory tree)
            if not (os.path.isdir(tmp) and not os.path.islink(tmp)):
                raise IsADirectoryError(
                    f"output {final!r} is a directory; refusing to replace it with a file "
                    "(give a file name)"
                )
            import shutil

            shutil.rmtree(final)
    _fsync_path(tmp)
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[str]:
    """Context manager yielding a temporary name that becomes ``final`` on success.

    Parameters
    ----------
    final : str or path-like
        The name the output should have once complete.
    overwrite : bool
        Allow replacing an existing ``final`` (checked before any work starts).

    Yields
    ------
    str
        The temporary path to write to.  On an exception it is deleted and
        ``final`` is left untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(d, "out.txt")) as tmp:
    ...     _ = open(tmp, "w").write("done")
    >>> open(os.path.join(d, "out.txt")).read()
    'done'
    """
    final = os.fspath(final)
    if not overwrite and os.path.lexists(final):
        raise FileExistsError(f"output {final!r} exists; pass overwrite=True to replace it")
    tmp = temporary_sibling(final)
    try:
        yield tmp
    except BaseException:
        discard(tmp)
        raise
    try:
        commit(tmp, final, overwrite=overwrite)
    except BaseException:
        discard(tmp)
        raise
