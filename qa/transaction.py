"""Adding and removing bulletins as one transaction with the index build that contains them.

A new file is staged in seeds/.staging/<id>/ and the change described in seeds/.transaction.json;
the build is made from the folder as it will be, and the change becomes part of the folder only
once that build is switched in. A process killed midway leaves the journal: the next one to take
the build lock finishes the change if its build is in use, else rolls it back (`recover`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from .corpus import read_issue
from .errors import BadBulletin, IssueTaken, NotFound, StorageError, shown
from .schema import Issue
from .seeds import (
    Entry, SeedFile, checked_label, effective_ids, free_id, is_numbered, listing, read_registry, sha256_of,
    without_ids, write_registry,
)  # fmt: skip

log = logging.getLogger(__name__)

MAX_BULLETIN_CHARS = 300_000
"""Text one bulletin may hold, added by any way (a monthly issue has 5,000–20,000 characters): more would
keep the model busy, and an upload queue blocked, for minutes."""
JOURNAL_FILE = ".transaction.json"
STAGING_DIR = ".staging"


@dataclass(frozen=True, slots=True)
class Change:
    name: str
    sha256: str
    issue_id: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    """Bulletins being added (staged in seeds/.staging/<id>/) or removed, described by a journal
    (seeds/.transaction.json) until the build that contains the change is switched in (`commit`)
    or is not (`rollback`). `build_id` is recorded just before that build is switched in."""

    seeds_dir: Path
    id: str
    adds: tuple[Change, ...] = ()
    removes: tuple[Change, ...] = ()
    origin: str | None = None  # who asked, kept in the registry as added_by ("upload <job id>")
    build_id: str | None = None
    parsed: dict[str, Issue] = field(default_factory=dict, compare=False, repr=False)  # name → as read; not journalled

    @property
    def staging(self) -> Path:
        return self.seeds_dir / STAGING_DIR / self.id

    def listing(self) -> tuple[SeedFile, ...]:
        """The folder as it is once this transaction is committed."""
        gone = {change.name for change in self.removes}
        kept = [seed for seed in listing(self.seeds_dir) if seed.name not in gone]
        staged = [SeedFile(c.name, self.staging / c.name, c.sha256, c.label, c.issue_id, self.parsed.get(c.name))
                  for c in self.adds]
        return tuple(sorted(kept + staged, key=lambda seed: seed.name))

    def prepared(self, build_id: str) -> "Transaction":
        prepared = replace(self, build_id=build_id)
        prepared._write_journal()
        return prepared

    def settle(self, current_build_id: str | None) -> bool:
        """Commit if the transaction's build is the one in use, else roll back; True if committed."""
        if self.build_id is not None and self.build_id == current_build_id:
            self.commit()
            return True
        self.rollback()
        return False

    def commit(self) -> None:
        """Make the change part of the folder. Safe to repeat after an interruption."""
        registry = without_ids(read_registry(self.seeds_dir), {c.name: c.issue_id for c in self.adds})
        for change in self.removes:
            registry.pop(change.name, None)
        for change in self.adds:
            registry[change.name] = Entry(change.issue_id, change.label, self.origin)
        write_registry(self.seeds_dir, registry)
        for change in self.removes:  # by content: a file added under the same name stays
            path = self.seeds_dir / change.name
            if path.exists() and sha256_of(path) == change.sha256:
                path.unlink()
        for change in self.adds:
            if (self.staging / change.name).exists():
                os.replace(self.staging / change.name, self.seeds_dir / change.name)
        _fsync_dir(self.seeds_dir)
        self._close()

    def rollback(self) -> None:
        self._close()

    def describe(self) -> str:
        parts = [f"加入 {'、'.join(c.name for c in self.adds)}"] if self.adds else []
        parts += [f"删除 {'、'.join(c.name for c in self.removes)}"] if self.removes else []
        return "并".join(parts)

    def _close(self) -> None:
        (self.seeds_dir / JOURNAL_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        try:
            self.staging.parent.rmdir()
        except OSError:
            pass  # another transaction's files (cannot be: one at a time), or already gone

    def _stage(self, sources: Mapping[str, Path]) -> None:
        try:
            self.staging.mkdir(parents=True)
            for name, source in sources.items():
                shutil.copyfile(source, self.staging / name)
                _fsync_file(self.staging / name)
            self._write_journal()
        except OSError as exc:
            self._close()
            raise StorageError.of(exc, f"the seeds directory {self.seeds_dir}") from None

    def _write_journal(self) -> None:
        record = {"id": self.id, "adds": [asdict(c) for c in self.adds], "removes": [asdict(c) for c in self.removes],
                  "origin": self.origin, "build_id": self.build_id}
        temp = self.seeds_dir / f"{JOURNAL_FILE}.tmp"
        temp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        _fsync_file(temp)
        os.replace(temp, self.seeds_dir / JOURNAL_FILE)


def check_size(name: str, issue: Issue) -> None:
    """BadBulletin for an issue with more text than MAX_BULLETIN_CHARS."""
    chars = sum(len(article.text) for article in issue.articles)
    if chars > MAX_BULLETIN_CHARS:
        raise BadBulletin(f"{name} 有 {chars:,} 个字符的文字，一期简报最多 {MAX_BULLETIN_CHARS:,} 个")


def begin_add(seeds_dir: Path, paths: Iterable[Path], *, label: str | None = None, replace_id: str | None = None,
              origin: str | None = None, progress: bool = False,
              parsed: Mapping[str, Issue] | None = None) -> Transaction | None:
    """Check each file parses and may join the folder, and stage it; None if all are already there.

    A file whose issue id (from a numbered label such as 2022年第10期) belongs to another file is
    refused with IssueTaken, unless `replace_id` names that issue: then it takes the issue's place.
    A file the registry remembers (it was in the folder before) gets back its label and its id."""
    label = checked_label(label)
    current = listing(seeds_dir)
    known = {seed.sha256: seed.name for seed in current}
    new: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            raise BadBulletin(f"{path} 是文件夹：请给出其中的简报文件")
        if not path.is_file():
            raise BadBulletin(f"{path}：文件不存在")
        digest = sha256_of(path)
        if digest in known:
            log.info("%s: same content as %s, already added", path.name, known[digest])
            continue
        known[digest] = path.name
        new.append((path, digest))
    if not new:
        return None
    if replace_id and len(new) > 1:
        raise BadBulletin("--replace 一次只能替换一个文件")
    owners = {issue_id: name for name, issue_id in effective_ids(current).items()}
    removes = () if replace_id is None else (_replaced(current, owners, replace_id),)
    names = {seed.name for seed in current} - {change.name for change in removes}
    for path, _ in new:
        if path.name in names:
            raise BadBulletin(f"{path.name}：{seeds_dir} 中已有同名的另一个文件")
        names.add(path.name)
    remembered = read_registry(seeds_dir)
    labels = {path.name: label or remembered.get(path.name, Entry()).label for path, _ in new}
    issues = {digest: ((parsed or {}).get(digest) if labels[path.name] == label else None)
              or read_issue(path, labels[path.name], progress=progress) for path, digest in new}
    for path, digest in new:
        check_size(path.name, issues[digest])
    adds = tuple(_change(path, digest, issues[digest], labels[path.name], owners, replace_id,
                         remembered.get(path.name, Entry()).id) for path, digest in new)
    transaction = Transaction(seeds_dir, uuid.uuid4().hex, adds, removes, origin,
                              parsed={change.name: issues[change.sha256] for change in adds})
    transaction._stage({change.name: path for change, (path, _) in zip(adds, new)})
    return transaction


def check_replaceable(seeds_dir: Path, replace_id: str) -> None:
    """NotFound, naming the ids there are, unless `replace_id` is an issue of the folder (for a check at the edge)."""
    ids = set(effective_ids(listing(seeds_dir)).values())
    if replace_id not in ids:
        raise _no_such_issue(replace_id, ids)


def _no_such_issue(replace_id: str, ids: Iterable[str]) -> NotFound:
    return NotFound(f"没有要替换的这一期：{shown(replace_id)}（现有：{', '.join(sorted(ids))}）")


def _replaced(current: tuple[SeedFile, ...], owners: dict[str, str], replace_id: str) -> Change:
    if replace_id not in owners:
        raise _no_such_issue(replace_id, owners)
    name = owners.pop(replace_id)
    return Change(name, next(seed.sha256 for seed in current if seed.name == name), replace_id)


def _change(path: Path, digest: str, issue: Issue, label: str | None, owners: dict[str, str],
            replace_id: str | None, remembered_id: str | None) -> Change:
    comes_back = remembered_id is not None and remembered_id not in owners and (
        not is_numbered(issue.label) or issue.id == remembered_id)
    if replace_id is not None:
        if is_numbered(issue.label) and issue.id != replace_id:
            raise BadBulletin(f"{path.name} 是 {issue.label}（期次 id {issue.id}），不是要替换的 {replace_id}")
        issue_id = replace_id
    elif comes_back:
        issue_id = remembered_id
    elif issue.id in owners and is_numbered(issue.label):
        raise IssueTaken(f"{issue.label}（期次 id {issue.id}）已在索引中（{owners[issue.id]}）；如要替换这一期，"
                         f"请指明替换 {issue.id}（命令行 --replace {issue.id}，上传时 replace={issue.id}）")
    else:
        issue_id = free_id(issue.id, owners)
    owners[issue_id] = path.name
    return Change(path.name, digest, issue_id, label)


def begin_remove(seeds_dir: Path, issue_id: str, origin: str | None = None) -> Transaction:
    current = listing(seeds_dir)
    owners = {owned: name for name, owned in effective_ids(current).items()}
    if issue_id not in owners:
        raise NotFound(f"没有这一期：{shown(issue_id)}（现有：{', '.join(sorted(owners))}）")
    if len(current) == 1:
        raise BadBulletin(f"{issue_id} 是唯一的一期，索引不能为空")
    name = owners[issue_id]
    sha = next(seed.sha256 for seed in current if seed.name == name)
    transaction = Transaction(seeds_dir, uuid.uuid4().hex, removes=(Change(name, sha, issue_id),), origin=origin)
    transaction._stage({})
    return transaction


def recover(seeds_dir: Path, current_build_id: str | None) -> tuple[Transaction, bool] | None:
    """Finish (its build is in use) or roll back (it is not) a transaction a killed process left;
    returns it and whether it was committed, or None when there was none."""
    journal = seeds_dir / JOURNAL_FILE
    if not journal.exists():
        shutil.rmtree(seeds_dir / STAGING_DIR, ignore_errors=True)  # staged before a journal was written
        return None
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        transaction = Transaction(
            seeds_dir, record["id"], tuple(Change(**c) for c in record["adds"]),
            tuple(Change(**c) for c in record["removes"]), record.get("origin"), record.get("build_id"),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("丢弃无法读取的 %s（%s）；简报目录保持原样", journal, exc)
        journal.unlink(missing_ok=True)
        shutil.rmtree(seeds_dir / STAGING_DIR, ignore_errors=True)
        return None
    committed = transaction.settle(current_build_id)
    log.warning("%s上次中断的%s", "已完成" if committed else "已撤销", transaction.describe())
    return transaction, committed


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
