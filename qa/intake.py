"""An uploaded bulletin, from the request to the index: saved under a generated name, read in a
child process with time and memory limits (qa.vet), then added to the seeds and the index as one
transaction — waiting its turn if another process is building. This is the "upload" job's runner.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from . import seeds, transaction
from .build import add_bulletins
from .config import Settings
from .embed import Embedder
from .errors import BadBulletin, BuildLocked, QAError, StorageError
from .index import current_build_id
from .ingest import SUPPORTED_SUFFIXES
from .jobs import Job
from .schema import Issue
from .vet import read_untrusted

log = logging.getLogger(__name__)

JOB_KIND = "upload"
LOCK_WAIT_SECONDS = 15 * 60
"""How long an upload waits for a build another process runs (builds take 15–40 s)."""
MAX_UPLOAD_NAME_CHARS = 80
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\-\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class IssueRecord:
    id: str
    label: str
    source: str


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What adding an uploaded bulletin did; `issue` is None only if it cannot be found afterwards."""

    added: bool
    message: str
    build_id: str
    issue: IssueRecord | None = None
    articles: int | None = None

    @classmethod
    def of(cls, added: bool, message: str, build_id: str, issue: Issue | None) -> "UploadOutcome":
        record = IssueRecord(issue.id, issue.label, issue.source) if issue else None
        return cls(added, message, build_id, record, len(issue.articles) if issue else None)


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
    """Write an upload to `<uploads>/<uuid4 hex>/<safe name>`; the client's name never picks the directory.
    StorageError if the index directory cannot take it (nothing is left behind)."""
    root = uploads_dir(settings).resolve()
    folder = root / uuid.uuid4().hex
    target = folder / safe_file_name(client_name, suffix)
    if target.parent != folder:  # cannot happen with the sanitised name; refuse rather than trust it
        raise ValueError(f"upload name {client_name!r} escapes {folder}")
    try:
        folder.mkdir(parents=True)
        with open(target, "xb") as handle:
            shutil.copyfileobj(content, handle, length=1024 * 1024)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StorageError(f"服务器无法保存上传的文件（{exc.strerror or exc}），索引没有改变", exc.strerror or "") from None
    except BaseException:  # a dropped connection leaves no half-written upload behind
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def sweep_uploads(settings: Settings, keep: set[Path]) -> None:
    """Remove saved uploads no queued or running job needs (left by a crash)."""
    root = uploads_dir(settings)
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir() and not any(path.parent == folder for path in keep):
                shutil.rmtree(folder, ignore_errors=True)


def upload_runner(settings: Settings, embedder: Embedder, indexed_issues: Callable[[], list[Issue]]):
    """The runner of "upload" jobs: params {"file", "label", "replace"}."""

    def run(job: Job) -> dict:
        outcome = add_uploaded_bulletin(settings, embedder, Path(job.params["file"]), job.params.get("label"),
                                        indexed_issues, replace_id=job.params.get("replace"), origin=f"upload {job.id}")
        return asdict(outcome)

    return run


def add_uploaded_bulletin(
    settings: Settings,
    embedder: Embedder,
    saved: Path,
    label: str | None,
    indexed_issues: Callable[[], list[Issue]],
    *,
    replace_id: str | None = None,
    origin: str | None = None,
) -> UploadOutcome:
    """Add the saved file to the seeds and the index, then delete the upload.

    Raises BadBulletin (the file changes nothing), IssueTaken, BuildLocked after LOCK_WAIT_SECONDS,
    StorageError. Run again after a restart, it reports an add its first run completed."""
    uploaded_name = saved.name
    try:
        if not saved.exists():
            earlier = _added_earlier(settings, origin, indexed_issues)
            if earlier:
                return earlier
            raise BadBulletin(f"{uploaded_name}：上传的文件已不在，请重新上传")
        saved = _free_seeds_name(saved, settings.seeds_dir)
        parsed = read_untrusted(saved, label)
        transaction.check_size(uploaded_name, parsed)
        issues, result = _add(settings, embedder, saved, label, replace_id, origin, parsed)
        if issues:
            issue = issues[0]  # as indexed: its id is the one the registry gave
            return UploadOutcome.of(True, f"已加入 {issue.label}（{saved.name}）：{len(issue.articles)} 篇文章",
                                    result.build_id, issue)
        earlier = _added_earlier(settings, origin, indexed_issues)
        if earlier:
            return earlier
        same = seeds.content_in(settings.seeds_dir, seeds.sha256_of(saved))
        issue = _indexed(indexed_issues, same) if same else None
        where = f"（{same}）" if same else ""
        return UploadOutcome.of(False, f"{uploaded_name}：索引中已有相同内容{where}", result.build_id, issue)
    finally:
        shutil.rmtree(saved.parent, ignore_errors=True)


def _add(settings: Settings, embedder: Embedder, saved: Path, label, replace_id, origin, parsed: Issue):
    try:
        return add_bulletins(settings, embedder, [saved], label, replace_id=replace_id, origin=origin,
                             wait=LOCK_WAIT_SECONDS, parsed={seeds.sha256_of(saved): parsed})
    except BuildLocked:  # its own message names the server's index path; the client needs none
        raise BuildLocked("另一个索引构建正在进行，请等它结束后再上传") from None
    except StorageError as exc:
        raise StorageError(f"服务器无法写入索引或简报目录（{exc.reason}）；没有任何改动", exc.reason) from None


def _added_earlier(settings: Settings, origin: str | None, indexed_issues) -> UploadOutcome | None:
    """The outcome of this job's add if a run interrupted by a restart completed it."""
    if origin is None:
        return None
    name = next((n for n, entry in seeds.read_registry(settings.seeds_dir).items() if entry.added_by == origin), None)
    if name is None:
        return None
    issue = _indexed(indexed_issues, name)
    what = issue.label if issue else name
    build_id = current_build_id(settings.index_dir) or ""
    return UploadOutcome.of(True, f"已加入 {what}（{name}）：服务器重启前已完成", build_id, issue)


def _free_seeds_name(saved: Path, seeds_dir: Path) -> Path:
    """Rename the upload if the seeds already hold a file of that name (adding refuses a clash)."""
    if not (seeds_dir / saved.name).exists():
        return saved
    stem = saved.stem[: MAX_UPLOAD_NAME_CHARS - len(saved.suffix) - 9]
    renamed = saved.with_name(f"{stem}-{uuid.uuid4().hex[:8]}{saved.suffix}")
    return saved.rename(renamed)


def _indexed(indexed_issues: Callable[[], list[Issue]], source: str) -> Issue | None:
    """The issue as served, by its file name."""
    try:
        return next((issue for issue in indexed_issues() if issue.source == source), None)
    except QAError as exc:
        log.warning("无法在当前服务的索引中查找 %s：%s", source, exc.message)
        return None
