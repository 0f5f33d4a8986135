"""The bulletin folder (seeds/): lists and hashes its files and keeps, beside them in issues.json,
each file's label and issue id. An id is given once — the registered one, else the one the label
gives, made unique — and never moves. Files are added and removed only through qa.transaction.

issues.json: {"file name": {"id": "2023-12", "label": "2023年第12期", "added_by": "upload 3f2c…"}},
"label" only where it overrides the file's header, "added_by" only for files added by qa. An id may
be set by hand (a short one to type for an issue that prints no number, "2023-a"). Also the one
order issues are shown in everywhere (`display_order`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from .corpus import ISSUE_LABEL_RE, read_issue
from .errors import BadBulletin
from .ingest import SUPPORTED_SUFFIXES
from .schema import Issue

log = logging.getLogger(__name__)

REGISTRY_FILE = "issues.json"
MAX_LABEL_CHARS = 40
ISSUE_ID_RE = re.compile(r"[0-9a-z][0-9a-z-]{0,79}")
"""What an issue id may be (it goes into URLs): those ids from labels ("2023-12") and file names."""
_LABEL_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")
_NOT_UTF8 = re.compile("[\ufffd\ud800-\udfff]")  # what undecodable bytes become in forms and argv


@dataclass(frozen=True, slots=True)
class Entry:
    """A file's line in the registry."""

    id: str | None = None  # None until the first build that sees the file registers one
    label: str | None = None
    added_by: str | None = None


@dataclass(frozen=True, slots=True)
class SeedFile:
    name: str
    path: Path  # where the bytes are now: in the folder, or staged by a transaction
    sha256: str
    label: str | None = None
    issue_id: str | None = None
    parsed: Issue | None = field(default=None, compare=False, repr=False)  # already read (by qa.vet, by the add)


def label_problem(label: str) -> str | None:
    """Why a label cannot be used — "too_long", "forbidden_chars" or "not_utf8" — or None."""
    if _NOT_UTF8.search(label):
        return "not_utf8"
    if len(label) > MAX_LABEL_CHARS:
        return "too_long"
    return "forbidden_chars" if _LABEL_FORBIDDEN.search(label) else None


_LABEL_MESSAGES = {
    "not_utf8": "不是有效的 UTF-8 文本",
    "too_long": f"超过 {MAX_LABEL_CHARS} 个字符",
    "forbidden_chars": "含有斜杠、反斜杠或控制字符",
}


def checked_label(label: str | None) -> str | None:
    """The label trimmed (blank → None); BadBulletin if it cannot be used."""
    label = (label or "").strip()
    problem = label_problem(label)
    if problem:
        shown = label.encode("utf-8", "replace").decode()[:MAX_LABEL_CHARS]
        raise BadBulletin(f"期次标签 {shown!r} {_LABEL_MESSAGES[problem]}")
    return label or None


def is_numbered(label: str) -> bool:
    """Does the label name a numbered issue ("2023年第12期"), whose id no second file may take?"""
    return bool(ISSUE_LABEL_RE.search(label))


# ---- the folder ---------------------------------------------------------------------------


def bulletin_files(seeds_dir: Path) -> list[Path]:
    if not seeds_dir.is_dir():
        raise BadBulletin(f"简报目录 {seeds_dir} 不存在")
    return sorted(p for p in seeds_dir.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listing(seeds_dir: Path) -> tuple[SeedFile, ...]:
    """Every bulletin file in the folder, in name order, with its hash, label and registered id."""
    registry = read_registry(seeds_dir)
    files = []
    for path in bulletin_files(seeds_dir):
        entry = registry.get(path.name, Entry())
        files.append(SeedFile(path.name, path, sha256_of(path), entry.label, entry.id))
    return tuple(files)


def content_in(seeds_dir: Path, digest: str) -> str | None:
    """The name of the bulletin file with this sha256, if the folder holds one."""
    return next((seed.name for seed in listing(seeds_dir) if seed.sha256 == digest), None)


# ---- the registry -------------------------------------------------------------------------


def read_registry(seeds_dir: Path) -> dict[str, Entry]:
    path = seeds_dir / REGISTRY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        registry = {name: Entry(**{k: v for k, v in row.items() if k in Entry.__slots__}) for name, row in raw.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise BadBulletin(f"{path}：无法读取期次标签和 id（{exc}）") from exc
    for name, entry in registry.items():
        if entry.id is not None and not ISSUE_ID_RE.fullmatch(entry.id):
            raise BadBulletin(f"{path}：{name} 的期次 id {entry.id!r} 只能用小写字母、数字和 -（最多 80 个）")
    return registry


def write_registry(seeds_dir: Path, registry: Mapping[str, Entry]) -> None:
    """Replace issues.json atomically (a temp file, flushed, renamed over it)."""
    path = seeds_dir / REGISTRY_FILE
    rows = {name: {k: v for k, v in asdict(entry).items() if v is not None} for name, entry in sorted(registry.items())}
    temp = path.with_name(f".{REGISTRY_FILE}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def set_label(seeds_dir: Path, name: str, label: str | None) -> None:
    """Give a file a label (None: back to its header's). Its issue id stays: ids never move."""
    registry = read_registry(seeds_dir)
    registry[name] = replace(registry.get(name, Entry()), label=checked_label(label))
    write_registry(seeds_dir, registry)


def register(seeds_dir: Path, issue_ids: Mapping[str, str]) -> None:
    """Record the ids a build gave to files the registry did not know. An entry of a file that is not
    in the folder stays (moved away for a while, it comes back with its label and id), unless its id
    went to another file. A folder that cannot be written is logged, not fatal: the same ids are
    derived next time."""
    registry = read_registry(seeds_dir)
    updated = without_ids(registry, issue_ids)
    for name, issue_id in issue_ids.items():
        if updated.get(name, Entry()).id != issue_id:
            updated[name] = replace(updated.get(name, Entry()), id=issue_id)
    if updated == registry:
        return
    try:
        write_registry(seeds_dir, updated)
    except OSError as exc:
        log.warning("无法把期次 id 记入 %s（%s）；下次构建时会再次得出相同的 id",
                    seeds_dir / REGISTRY_FILE, exc.strerror or exc)


def without_ids(registry: Mapping[str, Entry], given: Mapping[str, str]) -> dict[str, Entry]:
    """The registry with the ids in `given` (file → id) taken from any other file's entry."""
    taken = {issue_id: name for name, issue_id in given.items()}
    return {name: replace(entry, id=None) if entry.id in taken and taken[entry.id] != name else entry
            for name, entry in registry.items()}


def assign_ids(files: Iterable[tuple[SeedFile, str]]) -> dict[str, str]:
    """The issue id of each file, given (file, id its label gives) in name order: its registered
    id, else the label's id, else that id with -2, -3 … when another file has it."""
    files = list(files)
    owners: dict[str, str] = {}
    for seed, _ in files:
        if seed.issue_id in owners:
            raise BadBulletin(f"{REGISTRY_FILE} 把期次 id {seed.issue_id} 同时给了 {owners[seed.issue_id]} 和 {seed.name}")
        if seed.issue_id:
            owners[seed.issue_id] = seed.name
    ids: dict[str, str] = {}
    for seed, wanted in files:
        ids[seed.name] = seed.issue_id or free_id(wanted, owners)
        owners[ids[seed.name]] = seed.name
    return ids


def free_id(wanted: str, owners: Mapping[str, str]) -> str:
    candidate, n = wanted, 2
    while candidate in owners:
        candidate, n = f"{wanted}-{n}", n + 1
    return candidate


def effective_ids(files: Iterable[SeedFile]) -> dict[str, str]:
    """Issue ids as the next build gives them (parsing only files the registry has no id for)."""
    return assign_ids((seed, seed.issue_id or parse(seed).id) for seed in files)


def parse(seed: SeedFile) -> Issue:
    return seed.parsed or read_issue(seed.path, seed.label)


def display_order(issues: Iterable[Issue]) -> list[Issue]:
    """Newest first by year and issue number; issues that print no number last, in file order."""
    issues = list(issues)

    def key(indexed: tuple[int, Issue]) -> tuple:
        position, issue = indexed
        match = ISSUE_LABEL_RE.search(issue.label)
        return (0, -int(match.group(1)), -int(match.group(2)), position) if match else (1, 0, 0, position)

    return [issue for _, issue in sorted(enumerate(issues), key=key)]
