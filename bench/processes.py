"""`qa` as the user runs it: new processes, timed from start to exit, with their exact peak memory, and a real
`qa serve` started and stopped around the figures that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    peak_rss_mb: int  # the kernel's high-water mark for the process (wait4), not a sample
    stdout: str


ASK_EXIT_CODES = (0, 1)
"""`qa ask` exits 1 when the bulletins do not say (README, Using it): an answer either way."""


def qa(env: dict, *args: str, check: bool = True) -> Run:
    """`python -m qa.cli ARGS` in a new process."""
    ok = ASK_EXIT_CODES if args[:1] == ("ask",) else (0,)
    return python(env, "-m", "qa.cli", *args, check=check, ok=ok)


def python(env: dict, *args: str, check: bool = True, ok: tuple[int, ...] = (0,)) -> Run:
    """Reaped with wait4, which reports that one process's peak RSS (Popen.wait would discard it)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda name=name, pipe=pipe: output.__setitem__(name, pipe.read()))
               for name, pipe in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.join()
    if check and process.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} failed:\n{output['err']}")
    return Run(seconds, usage.ru_maxrss // 1024, output["out"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`qa serve` on a free port, healthy before the constructor returns."""

    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w", encoding="utf-8")
        started = time.perf_counter()
        self.process = psutil.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(self.port)], env=env,
                                    stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"qa serve exited with {self.process.returncode}; see {log}")
            time.sleep(0.1)
        else:
            raise SystemExit(f"qa serve did not become healthy in 180 s; see {log}")
        self.start_seconds = time.perf_counter() - started

    def rss_mb(self) -> int:
        return self.process.memory_info().rss // 2**20

    def imported(self, module: str) -> bool:
        """Whether the server process has `module` loaded (its mapped files name the module's libraries)."""
        return any(module in Path(mapped.path).parts for mapped in self.process.memory_maps())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except psutil.TimeoutExpired:
            self.process.kill()
        self._log.close()
