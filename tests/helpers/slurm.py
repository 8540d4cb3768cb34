"""A real single-node SLURM cluster for the tests: munged + slurmctld + slurmd.

Everything lives in one private directory (configuration, munge key and socket,
controller state, spool, logs) and the daemons listen on free ports, so the
cluster neither reads state left by an earlier run nor collides with a system
SLURM or another test run on the same machine.  The daemons run in the
foreground as children of the test process and are stopped by their process
ids; processes of jobs (slurmstepd, Dask workers) are found by the private
``SLURM_CONF`` in their environment and ended by pid too.

Needs the Debian packages ``slurm-wlm`` and ``munge`` (``scripts/test.sh``
installs them) and root (slurmd starts job steps as the submitting user).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SlurmUnavailable", "LocalSlurm", "missing_tools", "loopback_interface"]

#: Daemons and client commands the cluster needs.
TOOLS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "scontrol")
#: The partition the configuration defines (dask-jobqueue's ``queue=``).
PARTITION = "debug"


class SlurmUnavailable(RuntimeError):
    """SLURM cannot run here; the message says why (with the daemons' logs)."""


def missing_tools() -> list[str]:
    """Commands of slurm-wlm/munge not found on PATH (or /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return [t for t in TOOLS if shutil.which(t, path=path) is None]


def _which(tool: str) -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    found = shutil.which(tool, path=path)
    if found is None:  # pragma: no cover - checked by missing_tools first
        raise SlurmUnavailable(f"{tool} not found")
    return found


def loopback_interface() -> str | None:
    """Name of the interface carrying 127.0.0.1 (``lo`` on Linux), if any.

    Why: the Dask scheduler and workers bind to the machine's outbound address by
    default, and some machines (containers, CI sandboxes) have none.  Everything
    runs on this one node, so the tests keep all traffic on loopback.
    """
    try:
        import psutil

        for name, addrs in psutil.net_if_addrs().items():
            if any(a.family == socket.AF_INET and a.address.startswith("127.") for a in addrs):
                return name
    except Exception:  # pragma: no cover - psutil is a dependency
        pass
    return None


def _load_prctl():
    """libc's prctl, looked up in the parent (a child between fork and exec must not import)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:  # pragma: no cover - not Linux/glibc: stop() still ends them by pid
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies.

    Why: a test run killed from outside (timeout, SIGKILL) never reaches the
    fixture's teardown; the daemons must not outlive it.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on loopback right now."""
    socks, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _node_hardware() -> tuple[str, str]:
    """(node name, hardware fields) from ``slurmd -C`` (what slurmd will register)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise SlurmUnavailable(f"'slurmd -C' failed ({out.returncode}): {out.stderr.strip()}")
    first = next((ln for ln in out.stdout.splitlines() if ln.startswith("NodeName=")), None)
    if first is None:
        raise SlurmUnavailable(f"'slurmd -C' printed no NodeName line: {out.stdout!r}")
    fields = dict(kv.split("=", 1) for kv in first.split())
    name = socket.gethostname().split(".")[0] or fields["NodeName"]
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    hw = " ".join(f"{k}={fields[k]}" for k in keep if k in fields)
    return name, hw


@dataclass
class LocalSlurm:
    """A running private SLURM cluster; :meth:`start` it, :meth:`stop` it.

    Attributes
    ----------
    root : Path
        The private directory (``slurm.conf``, ``log/``, ``jobs/``).
    node : str
        Node name (``hostname -s``), also the controller host.
    cpus, memory_mb : int
        What the node offers (from ``slurmd -C``).
    """

    root: Path
    node: str = ""
    cpus: int = 0
    memory_mb: int = 0
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    # -- paths and environment ------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def job_log_dir(self) -> Path:
        """Where the tests ask dask-jobqueue to put job stdout/stderr."""
        return self.root / "jobs"

    @property
    def env(self) -> dict[str, str]:
        """The environment for client commands (sbatch, squeue, the CLI)."""
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        return env

    @property
    def partition(self) -> str:
        return PARTITION

    # -- start -----------------------------------------------------------------
    @classmethod
    def start(cls, base: str | os.PathLike | None = None, *, timeout: float = 60.0) -> LocalSlurm:
        """Configure and start munged, slurmctld and slurmd; wait for the node to be idle.

        Raises
        ------
        SlurmUnavailable
            With the reason and the daemons' log tails when the cluster does not come up.
        """
        missing = missing_tools()
        if missing:
            raise SlurmUnavailable(
                f"SLURM/munge commands not found: {', '.join(missing)} "
                "(apt-get install slurm-wlm munge; scripts/test.sh does it as root)")
        if os.geteuid() != 0:
            raise SlurmUnavailable("slurmd must run as root to start job steps (running as uid "
                                   f"{os.geteuid()})")
        # short path: the munge socket path must fit a sockaddr_un (108 bytes)
        root = Path(tempfile.mkdtemp(prefix="imc-slurm-", dir=base))
        self = cls(root=root)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        for sub in ("munge", "state", "spool", "log", "jobs"):
            (self.root / sub).mkdir(mode=0o755)
        os.chmod(self.root, 0o755)
        self._start_munge()
        self.node, hw = _node_hardware()
        fields = dict(kv.split("=", 1) for kv in hw.split())
        self.cpus = int(fields.get("CPUs", 1))
        self.memory_mb = int(fields.get("RealMemory", 1024))
        ctld_port, slurmd_port = _free_ports(2)
        self.conf.write_text(self._config(hw, ctld_port, slurmd_port))
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-f", str(self.conf)])
        self._wait(self._controller_up, timeout, "slurmctld did not answer 'scontrol ping'")
        self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(lambda: self.node_state().startswith("idle"), timeout,
                   "the node did not become idle")

    def _controller_up(self) -> bool:
        ping = self._run(["scontrol", "ping"], check=False, timeout=10)
        return ping.returncode == 0 and "UP" in ping.stdout

    def _start_munge(self) -> None:
        mdir = self.root / "munge"
        os.chmod(mdir, 0o711)  # munged wants the socket directory traversable by all
        key = mdir / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        # --force: munged refuses to run as root without it
        self._spawn("munged", [_which("munged"), "--foreground", "--force",
                               f"--socket={mdir / 'munge.sock'}", f"--key-file={key}",
                               f"--pid-file={mdir / 'munged.pid'}", f"--seed-file={mdir / 'seed'}",
                               f"--log-file={self.log_dir / 'munged.log'}"])
        sock = str(mdir / "munge.sock")

        def works() -> bool:
            enc = subprocess.run([_which("munge"), "-S", sock, "-n"], capture_output=True, timeout=10)
            if enc.returncode != 0:
                return False
            dec = subprocess.run([_which("unmunge"), "-S", sock], input=enc.stdout,
                                 capture_output=True, timeout=10)
            return dec.returncode == 0

        self._wait(works, 30.0, "munged did not encode/decode a credential")

    def _config(self, hw: str, ctld_port: int, slurmd_port: int) -> str:
        r = self.root
        return "\n".join([
            "ClusterName=imctest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={r / 'munge' / 'munge.sock'}",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.log_dir / 'slurmctld.log'}",
            f"SlurmdLogFile={self.log_dir / 'slurmd.log'}",
            "MpiDefault=none",
            # no systemd and no cgroups on the test machines: plain process tracking
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "ReturnToService=2",
            # a job without --mem would otherwise take the whole node
            "DefMemPerCPU=1024",
            "SchedulerType=sched/backfill",
            # seconds between SIGTERM and SIGKILL of a cancelled job
            "KillWait=10",
            f"NodeName={self.node} NodeAddr=127.0.0.1 {hw} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.log_dir / f"{name}.stdout", "wb")
        self._procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=self.env,
                                             start_new_session=True, preexec_fn=_die_with_parent)
        out.close()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited with status {proc.returncode} while "
                                           f"waiting: {what}\n{self.logs()}")
            try:
                if ready():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.3)
        raise SlurmUnavailable(f"{what} within {timeout:.0f} s\n{self.logs()}")

    # -- queries ----------------------------------------------------------------
    def _run(self, argv: list[str], *, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
        res = subprocess.run([_which(argv[0]), *argv[1:]], capture_output=True, text=True,
                             env=self.env, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}")
        return res

    def node_state(self) -> str:
        """The node's state as sinfo prints it (``idle``, ``mixed``, ``down*`` ...)."""
        return self._run(["sinfo", "-h", "-N", "-o", "%T"], check=False).stdout.strip()

    def jobs(self, name: str | None = None) -> list[tuple[str, str]]:
        """(job id, state) of the jobs in the queue, optionally only those named ``name``."""
        argv = ["squeue", "-h", "-o", "%i %T"]
        if name is not None:
            argv += ["--name", name]
        out = self._run(argv).stdout
        return [tuple(ln.split()[:2]) for ln in out.splitlines() if ln.strip()]  # type: ignore[misc]

    def running_jobs(self, name: str | None = None) -> list[str]:
        return [j for j, st in self.jobs(name) if st == "RUNNING"]

    def scancel(self, *job_ids: str) -> None:
        if job_ids:
            self._run(["scancel", *job_ids])

    def wait_no_jobs(self, name: str | None = None, timeout: float = 60.0) -> bool:
        """Wait until no job (named ``name``) is queued or running; True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.jobs(name):
                return True
            time.sleep(0.5)
        return False

    def logs(self, lines: int = 25) -> str:
        """Tails of the daemons' logs (for failure messages)."""
        parts = []
        for f in sorted(self.log_dir.glob("*")) if self.log_dir.exists() else []:
            try:
                text = f.read_text(errors="replace").splitlines()
            except OSError:
                continue
            useful = [ln for ln in text if "pmix" not in ln.lower()]  # harmless at every start
            parts.append(f"--- {f.name} (last {lines} lines)\n" + "\n".join(useful[-lines:]))
        return "\n".join(parts)

    def job_logs(self, lines: int = 15) -> str:
        """Tails of the jobs' stdout/stderr files (dask workers' logs)."""
        parts = []
        for f in sorted(self.job_log_dir.glob("*"))[-8:]:
            text = f.read_text(errors="replace").splitlines()
            parts.append(f"--- {f.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    # -- stop ------------------------------------------------------------------
    def job_processes(self) -> list[int]:
        """Pids of processes started by this cluster's jobs (their SLURM_CONF is ours)."""
        mine = f"SLURM_CONF={self.conf}".encode()
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if mine in env and int(d.name) not in {p.pid for p in self._procs.values()}:
                pids.append(int(d.name))
        return pids

    def stop(self) -> None:
        """Cancel every job, stop the daemons by pid, end leftover job processes, clean up."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            try:
                self._run(["scancel", "--partition", PARTITION], check=False)
                self.wait_no_jobs(timeout=30.0)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in self.job_processes():  # slurmstepd or workers that outlived their job
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.environ.get("IMC_KEEP_SLURM_DIR") is None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalSlurm:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def jobqueue_cluster(slurm: LocalSlurm, name: str, **overrides):
    """A ``dask_jobqueue.SLURMCluster`` on ``slurm`` with the tests' defaults.

    One core and one worker process per job (the test node has two cores), a
    bounded walltime, job logs under ``slurm.job_log_dir``, ``name`` as the job
    name (so ``squeue --name`` finds exactly this cluster's jobs), the dashboard
    on a free port, the repository on the workers' PYTHONPATH, and all traffic on the
    loopback interface.
    """
    previous = signal.getsignal(signal.SIGINT)
    from dask_jobqueue import SLURMCluster

    signal.signal(signal.SIGINT, previous)  # its import turns Ctrl-C into sys.exit()
    repo = Path(__file__).resolve().parents[2]
    opts = dict(cores=1, processes=1, memory="1GB", queue=slurm.partition, walltime="00:15:00",
                job_name=name, log_directory=str(slurm.job_log_dir), death_timeout=30,
                scheduler_options={"dashboard_address": ":0"},
                # the workers import the tests' helpers (tests.helpers.slurm_checks.slow_tile)
                job_script_prologue=[f"export PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}}"])
    iface = loopback_interface()
    if iface is not None:
        opts["interface"] = iface
    opts.update(overrides)
    return SLURMCluster(**opts)
