"""Background work for the web app: a queue with one worker thread, and the job it runs for an
uploaded bulletin (saved file → `add_bulletins` → outcome). Jobs live in memory only."""

from __future__ import annotations

import logging
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Literal

from .build import add_bulletins
from .config import Settings
from .embed import Embedder
from .errors import BuildLocked, QAError
from .ingest import SUPPORTED_SUFFIXES
from .schema import Issue
from .seeds import bulletin_files, sha256_of

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
FINISHED_JOBS_KEPT = 500
"""Finished jobs remembered for status polling; older ones are forgotten first."""
BUILD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
"""Seconds to wait before each retry while another build (e.g. `qa build` in a shell) holds the lock."""
MAX_UPLOAD_NAME_CHARS = 80
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\-\u4e00-\u9fff]")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    status: JobState
    description: str  # what the job works on, for people (an upload's original file name)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: object | None = None
    error: str | None = None


class JobQueue:
    """Runs submitted callables one at a time, in order, on a single daemon thread.

    A QAError fails the job with its message; any other exception is logged and fails the job
    with a generic message, so internals never reach the client.
    """

    def __init__(self, keep_finished: int = FINISHED_JOBS_KEPT):
        self._keep_finished = keep_finished
        self._jobs: dict[str, Job] = {}  # insertion order is submission order
        self._work: dict[str, Callable[[], object]] = {}
        self._pending: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, work: Callable[[], object], description: str = "") -> str:
        job = Job(id=uuid.uuid4().hex, status="queued", description=description, created_at=_now())
        with self._lock:
            self._jobs[job.id] = job
            self._work[job.id] = work
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="qa-jobs", daemon=True)
                self._worker.start()
        self._pending.put(job.id)
        return job.id

    def status(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """The job once finished, or as it stands when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.status(job_id)
            if job is None or job.status in ("done", "failed") or time.monotonic() >= deadline:
                return job
            time.sleep(0.02)

    def close(self) -> None:
        """Finish the jobs already submitted, then stop the worker."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._pending.put(None)
            worker.join()

    def _run(self) -> None:
        while (job_id := self._pending.get()) is not None:
            with self._lock:
                work = self._work.pop(job_id)
            self._update(job_id, status="running", started_at=_now())
            try:
                result = work()
            except QAError as exc:
                self._update(job_id, status="failed", finished_at=_now(), error=exc.message)
            except Exception:
                log.exception("job %s failed", job_id)
                self._update(job_id, status="failed", finished_at=_now(),
                             error="任务运行时发生内部错误，详情见服务器日志")
            else:
                self._update(job_id, status="done", finished_at=_now(), result=result)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)
            finished = [key for key, job in self._jobs.items() if job.finished_at is not None]
            for key in finished[: max(0, len(finished) - self._keep_finished)]:
                del self._jobs[key]


# ---- uploaded bulletins -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What adding an uploaded bulletin did; `issue` is None only if it cannot be found afterwards."""

    added: bool
    message: str
    build_id: str
    issue: Issue | None


def uploads_dir(settings: Settings) -> Path:
    return settings.index_dir / "uploads"


def upload_suffix(client_name: str | None) -> str | None:
    """The lowercased suffix of a client's file name if it is a bulletin type we read, else None."""
    suffix = PurePosixPath(_last_component(client_name or "")).suffix.lower()
    return suffix if suffix in SUPPORTED_SUFFIXES else None


def safe_file_name(client_name: str, suffix: str) -> str:
    """A file name that is safe on disk and still readable in citations: the last path component,
    only word characters, CJK, '.' and '-', no leading dot, at most MAX_UPLOAD_NAME_CHARS."""
    stem = _last_component(client_name)
    if stem.lower().endswith(suffix):
        stem = stem[: -len(suffix)]
    stem = _UNSAFE_NAME_CHARS.sub("", stem).lstrip(".")[: MAX_UPLOAD_NAME_CHARS - len(suffix)]
    return f"{stem or 'upload'}{suffix}"


def _last_component(client_name: str) -> str:
    # Browsers on Windows may send "C:\\path\\name.pdf"; both separators end a directory.
    return re.split(r"[/\\]", client_name)[-1]


def save_upload(content: BinaryIO, settings: Settings, client_name: str, suffix: str) -> Path:
    """Write an upload to `<uploads>/<uuid4 hex>/<safe name>`; the client's name never picks the directory."""
    root = uploads_dir(settings).resolve()
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / safe_file_name(client_name, suffix)
    if target.parent != folder:  # cannot happen with the sanitised name; refuse rather than trust it
        raise ValueError(f"upload name {client_name!r} escapes {folder}")
    try:
        with open(target, "xb") as handle:
            shutil.copyfileobj(content, handle, length=1024 * 1024)
    except BaseException:  # a full disk or a dropped connection leaves no half-written upload behind
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def add_uploaded_bulletin(
    settings: Settings,
    embedder: Embedder,
    saved: Path,
    label: str | None,
    indexed_issues: Callable[[], list[Issue]],
) -> UploadOutcome:
    """The upload job: add the saved file to the seeds and the index, then delete the upload.

    `indexed_issues` lists the issues being served (the engine's), to name the issue an upload
    duplicates.
    Raises BadBulletin (the file changes nothing) or BuildLocked once the retries are used up.
    """
    uploaded_name = saved.name
    try:
        saved = _free_seeds_name(saved, settings.seeds_dir)
        issues, result = _add_with_retries(settings, embedder, saved, label)
        if issues:
            issue = issues[0]  # as indexed: add_bulletins reports renumbered ids
            return UploadOutcome(True, f"已加入 {issue.label}（{saved.name}）：{len(issue.articles)} 篇文章",
                                 result.build_id, issue)
        same = _seeds_file_with_content(settings.seeds_dir, sha256_of(saved))
        issue = _indexed(indexed_issues, same) if same else None
        where = f"（{same}）" if same else ""
        return UploadOutcome(False, f"{uploaded_name}：索引中已有相同内容{where}",
                             result.build_id, issue)
    finally:
        shutil.rmtree(saved.parent, ignore_errors=True)


def _free_seeds_name(saved: Path, seeds_dir: Path) -> Path:
    """Rename the upload if the seeds already hold a file of that name (add_bulletins refuses a clash)."""
    if not (seeds_dir / saved.name).exists():
        return saved
    stem = saved.stem[: MAX_UPLOAD_NAME_CHARS - len(saved.suffix) - 9]
    renamed = saved.with_name(f"{stem}-{uuid.uuid4().hex[:8]}{saved.suffix}")
    return saved.rename(renamed)


def _add_with_retries(settings: Settings, embedder: Embedder, saved: Path, label: str | None):
    for delay in BUILD_RETRY_DELAYS:
        try:
            return add_bulletins(settings, embedder, [saved], label)
        except BuildLocked:
            log.info("%s: another build is running, retrying in %.1f s", saved.name, delay)
            time.sleep(delay)
    try:
        return add_bulletins(settings, embedder, [saved], label)
    except BuildLocked:  # its own message names the server's index path; the client needs none
        raise BuildLocked("另一个索引构建正在进行，请等它结束后再上传") from None


def _seeds_file_with_content(seeds_dir: Path, digest: str) -> str | None:
    return next((path.name for path in bulletin_files(seeds_dir) if sha256_of(path) == digest), None)


def _indexed(indexed_issues: Callable[[], list[Issue]], source: str) -> Issue | None:
    """The issue as served; its id can differ from the parsed one (clashing ids are renumbered)."""
    try:
        return next((issue for issue in indexed_issues() if issue.source == source), None)
    except QAError as exc:
        log.warning("could not look up %s in the served index: %s", source, exc.message)
        return None
