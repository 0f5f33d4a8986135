"""The web app's background jobs: a queue run one job at a time, in order, by one worker thread,
with every job's record in SQLite (qa.store). A job's status survives a restart; a job a restart
interrupted is run again, up to MAX_ATTEMPTS starts, then marked failed with the reason.

What a job does is a runner chosen by its kind: it gets the job (its JSON params) and returns a
JSON-able result, or raises QAError to fail the job with that message.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Mapping

from .errors import QAError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
FINISHED_JOBS_KEPT = 500
"""Finished jobs remembered for status polling; older ones are forgotten first."""
MAX_ATTEMPTS = 3
"""Starts a job gets: a restart interrupting it twice is survived, a third time it is given up."""
INTERNAL_ERROR = "任务运行时发生内部错误，详情见服务器日志"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    status: JobState
    description: str  # what the job works on, for people (an upload's original file name)
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    attempts: int = 0

    @classmethod
    def of(cls, row: sqlite3.Row) -> "Job":
        def moment(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            id=row["id"], kind=row["kind"], status=row["status"], description=row["description"],
            params=json.loads(row["params"]), created_at=datetime.fromisoformat(row["created_at"]),
            started_at=moment(row["started_at"]), finished_at=moment(row["finished_at"]),
            result=None if row["result"] is None else json.loads(row["result"]),
            error=row["error"], error_code=row["error_code"], attempts=row["attempts"],
        )  # fmt: skip


Runner = Callable[[Job], dict[str, Any]]


class JobQueue:
    """Jobs of the kinds in `runners`, kept in `connection` (a qa.store database)."""

    def __init__(self, connection: sqlite3.Connection, runners: Mapping[str, Runner],
                 keep_finished: int = FINISHED_JOBS_KEPT):
        self._db = connection
        self._runners = dict(runners)
        self._keep_finished = keep_finished
        self._pending: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._resume()

    def submit(self, kind: str, params: dict[str, Any], description: str = "") -> Job:
        if kind not in self._runners:
            raise ValueError(f"no runner for jobs of kind {kind!r}")
        job_id = uuid.uuid4().hex
        self._write("INSERT INTO jobs (id, kind, status, description, params, created_at) VALUES (?, ?, 'queued', ?, ?, ?)",
                    job_id, kind, description, json.dumps(params, ensure_ascii=False), _now())
        self._enqueue(job_id)
        return self.status(job_id)

    def status(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else Job.of(row)

    def active(self, kind: str) -> list[Job]:
        """Jobs of this kind still queued or running, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE kind = ? AND status IN ('queued', 'running') "
                                    "ORDER BY rowid", (kind,)).fetchall()
        return [Job.of(row) for row in rows]

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """The job once finished, or as it stands when `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.status(job_id)
            if job is None or job.status in ("done", "failed") or time.monotonic() >= deadline:
                return job
            time.sleep(0.02)

    def close(self) -> None:
        """Finish the jobs already submitted, stop the worker and close the database."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._pending.put(None)
            worker.join()
        with self._lock:
            self._db.close()

    def _resume(self) -> None:
        """Queue again the jobs a stopped server left queued or running, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY rowid").fetchall()
        for job in map(Job.of, rows):
            if job.status == "running" and job.attempts >= MAX_ATTEMPTS:
                self._finish(job.id, error=f"服务器重启已 {job.attempts} 次打断这个任务，不再重试；请重新上传",
                             error_code="interrupted")
            elif job.kind not in self._runners:
                self._finish(job.id, error=f"这个服务器不运行 {job.kind!r} 类任务", error_code="internal")
            else:
                log.info("任务 %s（%s）在服务器停止时处于 %s 状态：重新运行", job.id, job.description,
                         job.status)
                self._enqueue(job.id)

    def _enqueue(self, job_id: str) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="qa-jobs", daemon=True)
                self._worker.start()
        self._pending.put(job_id)

    def _work(self) -> None:
        while (job_id := self._pending.get()) is not None:
            try:
                self._run(job_id)
            except Exception:  # the database itself failed (disk full?): log, keep serving the queue
                log.exception("任务 %s：无法记录进度", job_id)

    def _run(self, job_id: str) -> None:
        self._write("UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
                    _now(), job_id)
        job = self.status(job_id)
        try:
            result = self._runners[job.kind](job)
        except QAError as exc:
            self._finish(job_id, error=exc.message, error_code=exc.code)
        except Exception:
            log.exception("任务 %s 失败", job_id)
            self._finish(job_id, error=INTERNAL_ERROR, error_code="internal")
        else:
            self._finish(job_id, result=result)

    def _finish(self, job_id: str, *, result: dict | None = None, error: str | None = None,
                error_code: str | None = None) -> None:
        status = "failed" if error is not None else "done"
        self._write("UPDATE jobs SET status = ?, finished_at = ?, result = ?, error = ?, error_code = ? WHERE id = ?",
                    status, _now(), None if result is None else json.dumps(result, ensure_ascii=False), error,
                    error_code, job_id)
        self._write("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL "
                    "ORDER BY rowid DESC LIMIT -1 OFFSET ?)", self._keep_finished)

    def _write(self, statement: str, *values: object) -> None:
        with self._lock:
            self._db.execute(statement, values)
