"""The `qa serve` running on an index directory: the record it leaves there (`server.json`: its address and
process id), asking it over HTTP as `qa ask` does, and how other `qa` processes give way to it.

`ask_server` turns the JSON answer back into the engine's own `Answer`, so `qa ask` prints the same whether
it answered locally or through the server.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from .config import Settings
from .errors import QAError, ServerUnreachable

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"
BUILD_NICENESS = 0
"""How far a build started from the command line lowers its CPU priority while a server runs on its index
(QA_BUILD_NICENESS). Measured with 8 clients asking (bench.threads): niceness 0, 5, 10, 19 made `qa add` take
24, 33, 96, 167 s and left the server's throughput where it was (51, 53, 46, 40 req/s, within the noise), so by
default the build only gives way by embedding on one thread."""
ASK_TIMEOUT_SECONDS = 30


def write_server_record(index_dir: Path, url: str) -> Path:
    """Say where this process serves `index_dir` (atomically: a reader never sees half a record)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / SERVER_FILE
    temp = path.with_name(f".{SERVER_FILE}.{os.getpid()}.tmp")
    temp.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return path


def remove_server_record(index_dir: Path) -> None:
    """Remove the record if it is still this process's (a newer server may have replaced it)."""
    path = index_dir / SERVER_FILE
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def running_server(index_dir: Path) -> str | None:
    """The address of the server recorded in `index_dir`, if its process is alive; a stale record is ignored."""
    try:
        record = json.loads((index_dir / SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = record.get("url") if isinstance(record, dict) else None
    return url if isinstance(url, str) and url.startswith("http") and _alive(record.get("pid")) else None


def settings_for_builds(settings: Settings) -> Settings:
    """Settings for a `qa build`/`add`/`remove` process. While a server runs on the same index, this process
    lowers its priority and embeds on one thread, so requests are not starved; otherwise it uses both cores."""
    if settings.embed_threads:
        return settings
    if running_server(settings.index_dir) is None:
        return replace(settings, embed_threads=2)
    niceness = os.environ.get("QA_BUILD_NICENESS", "").strip()
    try:
        if int(niceness or BUILD_NICENESS):
            os.nice(int(niceness))
    except (OSError, ValueError):  # not permitted, or not a number: the single thread still leaves a core free
        log.warning("QA_BUILD_NICENESS=%r 未能生效", niceness)
    log.info("%s 上有服务器在运行：用一个线程构建", settings.index_dir)
    return replace(settings, embed_threads=1)


def ask_server(url: str, payload: dict) -> dict:
    """POST an /api/ask request body to `url`; the response body. ServerUnreachable if nothing answers there;
    the server's own error (a bad question, an unknown issue, no index yet) is raised as a QAError with its
    message."""
    request = urllib.request.Request(
        url.rstrip("/") + "/api/ask", data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=ASK_TIMEOUT_SECONDS) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise QAError(_error_message(exc)) from None
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ServerUnreachable(f"{url} 没有 qa 服务应答：{_unreachable_reason(exc)}") from None


def _unreachable_reason(exc: Exception) -> str:
    """Why nothing answered, in the words of the rest of the CLI (the library's English says the same)."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ConnectionRefusedError):
        return "连接被拒绝（那里没有服务在监听）"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"{ASK_TIMEOUT_SECONDS} 秒内没有应答"
    if isinstance(reason, OSError) and ("Name or service" in str(reason) or "nodename" in str(reason)):
        return "找不到这个主机名"
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return "应答不是 qa 的 JSON"
    return str(reason)


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read().decode("utf-8"))["error"]["message"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"服务器返回 HTTP {exc.code}"
