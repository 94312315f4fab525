"""Fast notebook kernels for the test suite: forked from a process that has imported everything once.

Every lesson imports the two SDKs, matplotlib and faultfirst, which costs a
kernel about four seconds before its first cell; nbval starts a kernel per
notebook, so most of the suite's time went on imports. A zygote process
imports all of that once, then forks a kernel for each notebook: the child is
an ordinary ipykernel on the connection file nbval gave it, with its own
memory from the moment of the fork. The provisioner below is how
jupyter_client asks for such a kernel; kernels/faultfirst-fast/kernel.json beside
this file names it; pyproject.toml points nbval at that kernel, and the book's
Sphinx extension points myst-nb at it for the lessons it executes. Outputs are the same
as a fresh kernel's: nbval compares them with the committed notebooks, which
the generator executes in ordinary kernels.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

# Not pyplot or the inline backend: they hook into the IPython shell when imported, and there is no
# shell before the fork. The modules they build on carry most of the cost and hook into nothing.
KERNEL_NAME = "faultfirst-fast"


def expose_kernel_spec() -> None:
    """Put this package's kernel spec on JUPYTER_PATH, where jupyter_client looks for kernels.

    Jupyter reads `<entry>/kernels/<name>/kernel.json` for each JUPYTER_PATH entry: the entry is the
    faultfirst package, whose `kernels/` folder is this one.
    """
    folder = str(Path(__file__).parents[1])
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if folder not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([folder, *paths])


_PRELOAD = ("ipykernel.kernelapp",
            "ipykernel.debugger",  # the kernel imports debugpy (0.27 s) while it starts; it starts no thread on import
            "matplotlib.figure", "matplotlib.axes", "matplotlib.font_manager",
            "myst_nb.ext.glue",  # myst_nb.glue imports it (docutils, nbformat, jsonschema) at its first call
            "openai", "anthropic", "tenacity", "pydantic", "faultfirst.world", "faultfirst.checks")


def serve(socket_path: str) -> None:
    """The zygote: import everything, then fork a kernel for each request on the socket."""
    import importlib

    # ipykernel sets this at start-up; matplotlib reads it when first imported, which is now, before the fork.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # The zygote runs with frozen modules on, and debugpy warns about that on the terminal when imported;
    # ipykernel's own kernel specs set this when they leave frozen modules on.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for name in _PRELOAD:
        importlib.import_module(name)
    from faultfirst.model.tokens import encoding

    encoding("o200k_base"), encoding("cl100k_base")
    # Out of the collector's sight: a kernel's first full collection would otherwise walk every object imported
    # here and write to its header, copying the zygote's memory page by page (0.2 s of CPU per kernel, mostly
    # inside the lesson's `import matplotlib.pyplot`). Frozen, a kernel starts on about 0.1 s of CPU, not 0.4 s.
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system, not by us
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".new")
    listener.listen()
    os.rename(socket_path + ".new", socket_path)  # the path appears only once connections are accepted
    while True:
        connection, _ = listener.accept()
        request = json.loads(connection.makefile().readline())
        pid = os.fork()
        if pid == 0:
            listener.close()
            connection.close()
            _become_kernel(request, log_folder=Path(socket_path).parent)
        connection.sendall(f"{pid}\n".encode())
        connection.close()


def _become_kernel(request: dict[str, Any], *, log_folder: Path) -> None:
    """In the forked child: look like a freshly started kernel, then run one.

    Its own stdout and stderr go to a file beside the zygote's socket, not to the test run's terminal,
    where every kernel would print its start-up notices (a kernel on a TCP connection file warns that
    it is unencrypted). What a cell prints reaches the notebook as ever, over the kernel's channels.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # lessons may wait on subprocesses of their own
    os.setsid()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    log = os.open(log_folder / f"kernel-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from ipykernel.kernelapp import IPKernelApp

    try:
        IPKernelApp.launch_instance(argv=["-f", request["connection_file"]])
    finally:
        os._exit(0)


class _ForkedKernel:
    """The Popen-like handle jupyter_client's LocalProvisioner manages a kernel through."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None  # type: int, int | None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


SHARED_ZYGOTE = "FAULTFIRST_ZYGOTE_SOCKET"  # a zygote's socket that processes started later may use


def share_zygote() -> None:
    """Start this process's zygote now and name its socket in the environment for child processes.

    pytest's controller calls it before starting its xdist workers, so the workers fork their kernels
    from one zygote (one set of imports instead of one per worker) that began importing while the
    workers were still starting up.
    """
    _Zygote.start()
    os.environ[SHARED_ZYGOTE] = str(_Zygote.socket_path)


class _Zygote:
    """This process's zygote: a shared one named in the environment, or its own, started on first use."""

    socket_path: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def fork(cls, request: dict[str, Any]) -> int:
        shared = os.environ.get(SHARED_ZYGOTE)
        if cls.process is None and shared:
            cls.socket_path = shared
        elif cls.process is None or cls.process.poll() is not None:
            cls.start()
        cls._wait_until_listening()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(cls.socket_path))  # set by start() or from the environment above
            client.sendall((json.dumps(request) + "\n").encode())
            return int(client.makefile().readline())

    @classmethod
    def start(cls) -> None:
        """Start a zygote without waiting for its imports: fork() waits for its socket when a kernel is needed."""
        folder = tempfile.mkdtemp(prefix="faultfirst-zygote-")
        cls.socket_path = str(Path(folder) / "zygote.sock")
        cls.process = subprocess.Popen([sys.executable, "-m", "faultfirst.kernels.zygote", cls.socket_path])
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # runs after the kill below (atexit is LIFO)
        atexit.register(cls.process.kill)

    @classmethod
    def _wait_until_listening(cls) -> None:
        assert cls.socket_path is not None
        deadline = time.monotonic() + 120
        while not Path(cls.socket_path).exists():
            if (cls.process is not None and cls.process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError("the kernel zygote did not start")
            time.sleep(0.05)


class ZygoteProvisioner(LocalProvisioner):
    """A local provisioner whose kernels are forked from the zygote instead of started from scratch."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        connection_file = cmd[cmd.index("-f") + 1]
        env = kwargs.get("env") or dict(os.environ)
        pid = _Zygote.fork({"connection_file": connection_file, "cwd": str(kwargs.get("cwd") or os.getcwd()),
                            "env": {k: v for k, v in env.items() if isinstance(v, str)}})
        self.process = _ForkedKernel(pid)  # type: ignore[assignment]
        self.pid = self.pgid = pid  # the child called setsid: its pid is its process group
        self.cwd = kwargs.get("cwd", os.getcwd())
        return self.connection_info


if __name__ == "__main__":
    serve(sys.argv[1])
