"""Running a graph: the active scheduler, the plan's concurrency, progress and cancellation.

Local runs use dask's threaded scheduler on our own thread pool sized by the plan
(so a failing run waits for the tiles still in flight before the caller discards a
partial output); with a ``distributed.Client`` the tasks go to the cluster and results
are handled as they complete.  ``distributed`` is only imported when a client exists.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Union

import dask
import dask.base
import dask.local
import dask.threaded
from dask.callbacks import Callback
from dask.diagnostics import ProgressBar
from dask.highlevelgraph import HighLevelGraph

from imcombiners.dask.planner import Plan

if TYPE_CHECKING:  # distributed is imported only when a client is active (~0.3 s)
    from distributed import Client

__all__ = ["Progress", "OnResult", "distributed_client", "local_scheduler_kind", "execute",
           "worker_resources", "WORKER_BASELINE", "WORKER_IMPORTS"]

#: ``True`` (a progress bar), ``callable(done, total)`` called as tiles finish, or None.
Progress = Union[bool, Callable[[int, int], object], None]
#: ``on_result(key, result)``: called with each finished task's result.
OnResult = Callable[[Hashable, object], None]

#: Smallest baseline assumed for a distributed worker (interpreter + numpy/dask/distributed).
WORKER_BASELINE = 200 * 2**20
#: What a worker's RSS grows by when it first imports imcombiners, astropy and zarr.
WORKER_IMPORTS = 60 * 2**20


def distributed_client() -> Client | None:
    """The active ``distributed.Client`` if Dask computes through one, else None."""
    if "distributed" not in sys.modules:  # no client can exist before distributed is imported
        return None
    try:
        from distributed import default_client  # already imported: costs nothing

        client = default_client()
    except (ValueError, ImportError):
        return None
    sched = dask.config.get("scheduler", None)
    if sched not in (None, "dask.distributed", "distributed") and not hasattr(sched, "submit"):
        return None
    return client


def local_scheduler_kind() -> str:
    """``"threads"``, ``"sync"`` or ``"other"``: the local scheduler dask would use."""
    if "distributed" not in sys.modules and dask.config.get("scheduler", None) is None:
        # dask.base.get_scheduler() would import distributed (~0.3 s) to look for a client
        return "threads"
    sched = dask.base.get_scheduler()
    if sched is None or sched is dask.threaded.get:
        return "threads"
    if sched is dask.local.get_sync:
        return "sync"
    return "other"


def scheduler_workers(client: Client) -> dict[str, dict[str, Any]]:
    """Every worker the scheduler knows now, keyed by address.

    ``Client.scheduler_info()`` returns the client's cached identity, which a periodic
    refresh asking for no per-worker details (distributed 2025+) can replace between
    the fetch and the return: an unlucky call sees no workers in a busy cluster. Ask
    the scheduler directly instead; an asynchronous client can only use the cache.
    """
    if getattr(client, "asynchronous", False):
        return dict(client.scheduler_info().get("workers", {}))
    try:
        ident = client.sync(client.scheduler.identity, n_workers=-1)
    except TypeError:  # older distributed: identity() takes no arguments
        ident = client.sync(client.scheduler.identity)
    return dict(ident.get("workers", {}))


def worker_resources(client: Client) -> tuple[int | None, int | None, int | None]:
    """(threads, memory limit, baseline RSS) of the smallest/fullest worker of a client.

    The scheduler's view (:func:`scheduler_workers`) carries each worker's ``nthreads``,
    ``memory_limit`` and its last reported process memory; a worker that has not
    imported the library yet will grow by its import, so the baseline is at
    least :data:`WORKER_BASELINE`.
    """
    info = scheduler_workers(client)
    if not info:
        return None, None, None
    threads = min(int(w.get("nthreads", 1)) for w in info.values())
    lims = [int(w.get("memory_limit") or 0) for w in info.values()]
    limit = min(lims) if all(lims) else None
    rss = [int((w.get("metrics") or {}).get("memory") or 0) for w in info.values()]
    baseline = max([WORKER_BASELINE] + [r + WORKER_IMPORTS for r in rss])
    return threads, limit, baseline


class _TileCallback(Callback):
    """Local-scheduler callback counting finished tasks of one layer (``prefix``)."""

    def __init__(self, prefix: str, total: int, fn: Callable[[int, int], object] | None,
                 on_result: OnResult | None) -> None:
        super().__init__()
        self.prefix, self.total, self.fn, self.on_result = prefix, total, fn, on_result
        self.done = 0

    def _posttask(self, key, result, dsk, state, worker_id) -> None:  # noqa: D401 - dask hook
        if isinstance(key, tuple) and key and key[0] == self.prefix:
            self.done += 1
            if self.on_result is not None:
                self.on_result(key, result)
            if self.fn is not None:
                self.fn(self.done, self.total)


def _execute_distributed(client: Client, hlg: HighLevelGraph, keys: Sequence[Hashable],
                         progress: Progress, on_result: OnResult | None) -> None:
    from distributed import as_completed  # a client is active: distributed is imported
    from distributed import progress as progress_bar

    total = len(keys)
    fn = progress if callable(progress) else None
    futures = client.get(hlg, keys, sync=False)
    if progress is True:
        progress_bar(futures)
    done = 0
    key_of = {f.key: k for f, k in zip(futures, keys)}
    try:
        for fut in as_completed(futures):
            result = fut.result()  # raises the task's exception, if any
            done += 1
            if on_result is not None:
                on_result(key_of[fut.key], result)
            if fn is not None:
                fn(done, total)
            fut.release()
    except BaseException:
        client.cancel(futures)  # stop writing into an output about to be discarded
        _wait_in_flight(client, {k[0] if isinstance(k, tuple) else k for k in keys})
        raise


#: Longest wait (s) for cancelled tiles still running on workers after a failed run.
IN_FLIGHT_TIMEOUT = 600.0


def _running_tasks(layers: set, dask_worker=None) -> int:
    """On a worker: tasks of ``layers`` still running (a cancelled task runs to its end)."""
    running = ("executing", "long-running", "cancelled", "resumed")
    return sum(1 for key, ts in list(dask_worker.state.tasks.items())
               if ts.state in running and (key[0] if isinstance(key, tuple) else key) in layers)


def _wait_in_flight(client: Client, layers: set, timeout: float = IN_FLIGHT_TIMEOUT) -> None:
    """Wait until no worker still runs a task of ``layers`` (bounded by ``timeout``).

    Why: cancelling a future does not stop a task that is already running; a tile
    writing into a temporary output would re-create it after the caller discarded it
    (the local path waits for its thread pool the same way).
    """
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            counts = client.run(_running_tasks, layers, on_error="return")
        except Exception:  # the cluster is going away: nothing left to wait for
            return
        if not any(isinstance(c, int) and c > 0 for c in counts.values()):
            return
        time.sleep(0.1)


def execute(hlg: HighLevelGraph, keys: Sequence[Hashable], plan: Plan, progress: Progress, prefix: str,
            on_result: OnResult | None) -> None:
    """Run ``keys`` of ``hlg`` on the active scheduler with the plan's concurrency."""
    client = distributed_client()
    if client is not None:
        _execute_distributed(client, hlg, keys, progress, on_result)
        return
    kind = local_scheduler_kind()
    fn = progress if callable(progress) else None
    callbacks: list[Callback] = [_TileCallback(prefix, len(keys), fn, on_result)]
    if progress is True:
        callbacks.append(ProgressBar())
    dsk = dict(hlg)
    pool = None
    if kind == "threads":
        # Our own pool, so that a failing run waits for the tiles still in flight before
        # the caller discards a partial output (they would re-create it otherwise).
        pool = ThreadPoolExecutor(max_workers=plan.threads, thread_name_prefix="imc-tile")
        get, kw = dask.threaded.get, {"num_workers": plan.threads, "pool": pool}
    elif kind == "sync":
        get, kw = dask.local.get_sync, {}
    else:
        get, kw = dask.base.get_scheduler(), {}
    try:
        with ExitStack() as stack:
            for cb in callbacks:
                stack.enter_context(cb)
            get(dsk, list(keys), **kw)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
