"""Where ``imcombiners combine`` computes: threads here, a Dask scheduler, or a batch cluster.

* nothing: the engine's threads in this process;
* ``--scheduler ADDRESS`` (``tcp://host:8786``), ``--scheduler FILE`` (a scheduler file
  written by ``dask scheduler --scheduler-file``) or ``--scheduler local`` (a
  LocalCluster of ``--workers`` processes): a ``distributed.Client``;
* ``--cluster slurm|pbs|sge|lsf|htcondor|oar|moab``: a dask-jobqueue cluster started for
  the run (``--jobs`` batch jobs of ``--cores``/``--memory`` each, or whatever the
  dask-jobqueue configuration, or ``--cluster-config FILE``, says), shown while it
  starts, and shut down (its jobs cancelled) when the run ends, fails, or is
  interrupted with Ctrl-C or SIGTERM.

dask-jobqueue is imported only for ``--cluster`` (the ``hpc`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from imcombiners._record import Record, factory

from ._errors import EXIT_FAILURE, CLIError
from ._sizes import parse_memory

__all__ = ["ClusterSpec", "add_cluster_options", "cluster_spec", "compute_on", "KINDS"]

#: --cluster name -> dask_jobqueue class.
KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
         "htcondor": "HTCondorCluster", "oar": "OARCluster", "moab": "MoabCluster"}
#: Seconds a job may take to be *submitted* (not started) before the run is abandoned,
#: when dask-jobqueue cannot be asked whether its submissions were answered.
SUBMIT_GRACE = 60.0


class ClusterSpec(Record):
    """A batch cluster to start for one run.

    Attributes
    ----------
    kind : str
        Key of :data:`KINDS` (``"slurm"``).
    jobs : int
        Batch jobs to submit.
    options : dict
        Keyword arguments of the dask-jobqueue class (only those given on the command
        line; the rest comes from the dask-jobqueue configuration).
    config_file : str or None
        A dask configuration file (YAML with a ``jobqueue:`` section) to load first.
    wait : float or None
        Seconds to wait for the first worker (None: as long as the queue takes).
    """

    kind: str
    jobs: int
    options: dict[str, Any] = factory(dict)
    config_file: str | None = None
    wait: float | None = None

    @property
    def label(self) -> str:
        """The batch system's name as people write it (``SLURM``, ``HTCondor``)."""
        return KINDS[self.kind][: -len("Cluster")]


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """The ``BATCH CLUSTER`` option group of ``combine``."""
    g = parser.add_argument_group("BATCH CLUSTER (dask-jobqueue; pip install 'imcombiners[hpc]')")
    g.add_argument("--cluster", choices=sorted(KINDS), default=None, metavar="KIND",
                   help="start a Dask cluster of batch jobs for this run and stop it at the end: "
                   + ", ".join(sorted(KINDS)))
    g.add_argument("--jobs", type=int, default=1, metavar="N", help="batch jobs to submit (1)")
    g.add_argument("--cores", type=int, default=None, metavar="C", help="cores per job")
    g.add_argument("--memory", default=None, metavar="SIZE",
                   help="memory per job, e.g. 4GB (shared by the job's worker processes; "
                   "each worker's share is its memory limit)")
    g.add_argument("--processes", type=int, default=None, metavar="P",
                   help="worker processes per job (default: dask-jobqueue's choice)")
    g.add_argument("--queue", default=None, metavar="NAME", help="queue / partition")
    g.add_argument("--account", default=None, metavar="NAME", help="account / project to charge")
    g.add_argument("--walltime", default=None, metavar="HH:MM:SS", help="job time limit")
    g.add_argument("--interface", default=None, metavar="IF",
                   help="network interface of the scheduler and workers (e.g. ib0)")
    g.add_argument("--cluster-config", default=None, metavar="FILE",
                   help="dask configuration file (YAML, 'jobqueue:' section) with the site's "
                   "settings; the options above override it")
    g.add_argument("--cluster-wait", type=float, default=None, metavar="SECONDS",
                   help="give up if no worker has connected after SECONDS (default: wait for "
                   "the queue)")


def cluster_spec(args: argparse.Namespace) -> ClusterSpec | None:
    """The cluster asked on the command line (None without ``--cluster``); checks the options."""
    kind = getattr(args, "cluster", None)
    config_file = getattr(args, "cluster_config", None)
    if kind is None:
        if config_file is not None:
            raise CLIError("--cluster-config needs --cluster KIND (e.g. --cluster slurm)")
        return None
    if getattr(args, "scheduler", None) is not None:
        raise CLIError("--cluster and --scheduler are exclusive: start a cluster or use a running one")
    if getattr(args, "workers", None) is not None:
        raise CLIError("--workers is for threads or --scheduler local; with --cluster use --jobs "
                       "and --processes")
    for opt in ("jobs", "cores", "processes"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise CLIError(f"--{opt} must be at least 1, got {value}")
    if args.cluster_wait is not None and args.cluster_wait <= 0:
        raise CLIError(f"--cluster-wait must be positive, got {args.cluster_wait}")
    if args.memory is not None:
        parse_memory(args.memory, option="--memory")
    if config_file is not None and not os.path.isfile(config_file):
        raise CLIError(f"--cluster-config: no such file: '{config_file}'")
    options = {k: getattr(args, k) for k in ("cores", "memory", "processes", "queue", "account",
                                            "walltime", "interface")
               if getattr(args, k) is not None}
    return ClusterSpec(kind=kind, jobs=args.jobs, options=options, config_file=config_file,
                       wait=args.cluster_wait)


# ----------------------------------------------------------------------------- running


@contextlib.contextmanager
def compute_on(*, scheduler: str | None = None, workers: int | None = None,
               memory_limit: int | None = None, cluster: ClusterSpec | None = None,
               log: Callable[[str], object] | None = None) -> Iterator[Any]:
    """Yield the ``distributed.Client`` the run computes on (None: threads in this process).

    Whatever it started (a LocalCluster, batch jobs) is stopped on the way out, also on
    errors and interrupts.
    """
    say = log or (lambda _text: None)
    if cluster is not None:
        with _batch_cluster(cluster, say) as client:
            yield client
        return
    if scheduler is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "local":
        local = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                             memory_limit=memory_limit or "auto", dashboard_address=None)
        try:
            with Client(local) as client:
                yield client
        finally:
            local.close()
        return
    try:
        if os.path.isfile(scheduler):
            client = Client(scheduler_file=scheduler, timeout="10s")
        elif scheduler.endswith(".json") or os.sep in scheduler and "://" not in scheduler:
            raise CLIError(f"--scheduler: no such scheduler file: '{scheduler}'")
        else:
            client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise CLIError(f"--scheduler: cannot connect to '{scheduler}': {exc}",
                       status=EXIT_FAILURE) from None
    with client:
        yield client


def _jobqueue() -> Any:
    """Import dask_jobqueue, keeping this process's Ctrl-C handler.

    Why: importing ``dask_jobqueue`` (0.9) replaces the SIGINT handler with
    ``sys.exit()``, which would turn Ctrl-C into a silent exit with status 0.
    """
    import signal

    previous = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue
    except ImportError:
        raise CLIError("--cluster needs dask-jobqueue: pip install 'imcombiners[hpc]'") from None
    finally:
        with contextlib.suppress(ValueError, TypeError):  # not the main thread / no handler
            signal.signal(signal.SIGINT, previous)
    return dask_jobqueue


def _load_config(path: str) -> None:
    """Merge a dask configuration file (YAML) into this process's dask configuration."""
    import dask.config
    import yaml

    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CLIError(f"--cluster-config: cannot read '{path}': {exc}") from None
    if not isinstance(data, dict) or "jobqueue" not in data:
        raise CLIError(f"--cluster-config: '{path}' has no 'jobqueue:' section "
                       "(see docs/hpc.md for an example)")
    dask.config.update(dask.config.config, data, priority="new")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a job killed, ``kill PID``) unwinds like Ctrl-C, so the jobs get cancelled."""

    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _batch_cluster(spec: ClusterSpec, say: Callable[[str], object]) -> Iterator[Any]:
    jq = _jobqueue()
    if spec.config_file is not None:
        _load_config(spec.config_file)
    cls = getattr(jq, KINDS[spec.kind])
    from distributed import Client

    with _terminate_as_interrupt(), _SubmissionErrors() as refused:
        try:
            with warnings.catch_warnings():
                # the dashboard moves to a free port when 8787 is taken; the link is printed
                warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
                cluster = cls(**spec.options)
        except ValueError as exc:  # e.g. no cores/memory given anywhere
            text = _one_line(exc)
            if "must specify" in text:
                text = (f"give --cores and --memory (or set cores and memory under "
                        f"jobqueue.{spec.kind} in the dask configuration or --cluster-config)")
            raise CLIError(f"--cluster {spec.kind}: {text}") from None
        client = None
        try:
            say(f"{spec.label} cluster: submitting {spec.jobs} job(s); scheduler "
                f"{cluster.scheduler_address}, dashboard {cluster.dashboard_link}")
            cluster.scale(jobs=spec.jobs)
            answered = _await_submissions(cluster)
            client = Client(cluster)
            _wait_first_worker(cluster, client, spec, say, refused,
                               grace=0.0 if answered else SUBMIT_GRACE)
            yield client
        finally:
            say(f"{spec.label} cluster: stopping (cancelling its jobs)")
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            _close_cluster(cluster)


def _close_cluster(cluster: Any) -> None:
    """Close a dask-jobqueue cluster: cancel its jobs, stop its scheduler.

    A job whose submission was refused never started, but distributed insists that every
    job it created has closed (an AssertionError at close, and a second, hanging close at
    interpreter exit): such jobs are marked failed first.
    """
    from distributed.core import Status

    for job in list(getattr(cluster, "workers", {}).values()):
        if getattr(job, "job_id", "") is None and getattr(job, "status", None) == Status.created:
            job.status = Status.failed
    with contextlib.suppress(AssertionError):
        cluster.close()


class _SubmissionErrors:
    """Catch dask-jobqueue's refused submissions, logged as tracebacks from its event loop.

    The CLI reports them as one line (the batch system's own words) instead. A logging
    filter (loggers call its ``filter``); not a ``logging.Filter`` subclass, so that
    the logging module is imported only by runs that start a cluster.
    """

    LOGGERS = ("tornado.application", "asyncio", "distributed.deploy.spec")
    MARK = "Command exited with non-zero exit code"

    def __init__(self) -> None:
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        text = str(exc) if exc is not None else record.getMessage()
        if self.MARK not in text:
            return True
        self.messages.append(text)
        return False

    def reason(self) -> str:
        """The batch system's error lines (the submission command's stderr), joined."""
        for text in self.messages:
            err = text.split("stderr:", 1)[-1]
            lines = [ln.strip() for ln in err.splitlines() if ln.strip() and "\\n" not in ln]
            if lines:
                return "; ".join(dict.fromkeys(lines))
        return ""

    def __enter__(self) -> _SubmissionErrors:
        import logging

        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        # after a refusal the filter stays: asyncio reports the unretrieved task exception
        # when the task is collected, possibly after the cluster is gone
        if not self.messages:
            import logging

            for name in self.LOGGERS:
                logging.getLogger(name).removeFilter(self)


def _await_submissions(cluster: Any) -> bool:
    """Wait until the batch system has answered every job submission; True if it could.

    Why: dask-jobqueue submits in the background and only logs a refused submission
    (bad queue, account, walltime); its jobs then never get an id.  distributed's
    ``SpecCluster._correct_state`` is the coroutine that submits them.
    """
    correct = getattr(cluster, "_correct_state", None)
    if not callable(correct):
        return False
    try:
        cluster.sync(correct)
    except Exception:  # noqa: BLE001 - the job ids tell what happened
        pass
    return True


def _wait_first_worker(cluster: Any, client: Any, spec: ClusterSpec, say: Callable[[str], object],
                       refused: _SubmissionErrors, grace: float = SUBMIT_GRACE) -> None:
    """Block until a worker has connected (the plan reads the workers' memory limit).

    Fails when a job has no id ``grace`` seconds after the start (its submission was
    refused) or, with ``--cluster-wait``, when no worker came in time.
    """
    from ..dask.scheduling import scheduler_workers

    t0 = time.monotonic()
    announced = False
    while True:
        workers = scheduler_workers(client)  # not scheduler_info(): its cache races
        if workers:
            w = next(iter(workers.values()))
            say(f"{spec.label} cluster: {len(workers)} worker(s) connected after "
                f"{time.monotonic() - t0:.0f} s ({w.get('nthreads')} thread(s), memory limit "
                f"{_fmt_bytes(w.get('memory_limit'))} each); more join as their jobs start")
            return
        jobs = list(getattr(cluster, "workers", {}).values())
        ids = [str(j.job_id) for j in jobs if getattr(j, "job_id", None)]
        elapsed = time.monotonic() - t0
        if ids and not announced:
            say(f"{spec.label} cluster: job(s) {', '.join(ids)} queued; waiting for the first worker")
            announced = True
        if len(ids) < len(jobs) and elapsed >= grace:
            why = refused.reason() or "see the messages above"
            raise CLIError(f"--cluster {spec.kind}: the batch system refused the job ({why}); check "
                           "--queue, --account, --walltime, --memory and the dask-jobqueue "
                           "configuration", status=EXIT_FAILURE)
        if spec.wait is not None and elapsed > spec.wait:
            raise CLIError(f"--cluster {spec.kind}: no worker connected within {spec.wait:.0f} s "
                           f"(jobs {', '.join(ids) or 'not submitted'}); the jobs were cancelled",
                           status=EXIT_FAILURE)
        time.sleep(0.5)


def _fmt_bytes(n: Any) -> str:
    try:
        from dask.utils import format_bytes

        return format_bytes(int(n))
    except (TypeError, ValueError):
        return str(n)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
