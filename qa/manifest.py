"""The manifest of one index build: a typed record of how the build was made and what it holds,
its loader, and its checks. Every file of the build directory is listed with its size and sha256
(whatever its name, so files added to builds later are covered too), with named counts that the
loaded build must agree with; the manifest carries the sha256 of its own content.

A loaded build keeps each file's stamp (size, times, inode) from just before it was hashed, so
`DiskCheck` can tell cheaply, later, whether the directory still holds what was loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Iterable, Mapping

from .errors import IndexDamaged, IndexMismatch
from .seeds import sha256_of

FORMAT_VERSION = 5
"""Bump when the layout of a build directory changes; older builds are refused with `qa build --force`.
2: evidence units (sentences, their vectors, contexts, term statistics); 3: every file's size and
sha256, named counts, issue ids; 4: the manifest's own checksum."""
MANIFEST_FILE = "manifest.json"
CHECKSUM_KEY = "checksum"
"""sha256 of the manifest's other content (canonical JSON): a changed size, hash, count or text hash in
the manifest is caught like a changed file, not trusted."""
FIX = "请运行 qa build --force"
SAME_COUNTS = (("chunks", "vectors", "dense", "keyword"), ("sentences", "sentence_vectors", "context_vectors"))
"""Groups of counts that must be equal: one vector, FAISS entry and keyword document per chunk; one
vector per sentence."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str  # relative to the build directory, "/"-separated
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Chunking:
    min_chars: int
    max_chars: int


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    parser: int
    model: str
    dimension: int
    chunking: Chunking
    sources: dict[str, str]  # bulletin file name → sha256
    labels: dict[str, str]  # bulletin file name → label given for it (seeds/issues.json)
    issue_ids: dict[str, str]  # bulletin file name → its issue id (the registry's)
    runtime: str  # what computed every vector of this build (qa.embed: onnx-int8, torch-fp32, …; never a mix)
    build_id: str
    built_at: str
    text_hashes: tuple[str, ...]  # one per chunk, to reuse vectors in the next build
    sentence_hashes: tuple[str, ...] = ()  # one per sentence (evidence unit), likewise
    context_hashes: tuple[str, ...] = ()  # one per sentence read in its context (sentences.sentence_context_text)
    counts: tuple[tuple[str, int], ...] = ()  # (name, count): issues, articles, chunks, vectors, dense, keyword
    files: tuple[FileRecord, ...] = ()
    reader: str | None = None  # version of the reader weights present at build time (they load at serve time)

    def count(self, name: str) -> int | None:
        return dict(self.counts).get(name)

    def fingerprint(self) -> dict:
        """What decides whether a rebuild would make the same build."""
        return {
            "format": self.format,
            "parser": self.parser,
            "model": self.model,
            "chunking": asdict(self.chunking),
            "sources": self.sources,
            "labels": self.labels,
            "issue_ids": self.issue_ids,
        }

    def with_contents(self, counts: Iterable[tuple[str, int]], files: Iterable[FileRecord]) -> "Manifest":
        return replace(self, counts=tuple(counts), files=tuple(files))

    def to_json(self) -> str:
        value = asdict(self)
        value["counts"] = dict(self.counts)
        value[CHECKSUM_KEY] = _checksum(value)
        return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _checksum(value: dict) -> str:
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the build in `folder`; IndexDamaged if it is missing or unreadable,
    IndexMismatch if it was written by another format version."""
    build_id = folder.name
    try:
        value = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexDamaged(f"索引 {build_id} 没有 {MANIFEST_FILE}（未完成的构建？）：{FIX}") from None
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"索引 {build_id} 的 {MANIFEST_FILE} 无法读取（{_short(exc)}）：{FIX}") from None
    if not isinstance(value, dict):
        raise IndexDamaged(f"索引 {build_id} 的 {MANIFEST_FILE} 不是 JSON 对象：{FIX}")
    if value.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"索引 {build_id} 的格式版本是 {value.get('format')}，本程序读取版本 {FORMAT_VERSION}：{FIX}"
        )
    if value.pop(CHECKSUM_KEY, None) != _checksum(value):
        raise IndexDamaged(f"索引 {build_id} 的 {MANIFEST_FILE} 已被改动（与其中记录的校验和不符）：{FIX}")
    try:
        return _manifest_of(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexDamaged(f"索引 {build_id} 的 {MANIFEST_FILE} 内容不完整（{_short(exc)}）：{FIX}") from None


def _manifest_of(value: dict) -> Manifest:
    known = {f.name for f in fields(Manifest)}
    plain = {key: item for key, item in value.items() if key in known}
    manifest = Manifest(
        **{
            **plain,
            "chunking": Chunking(**value["chunking"]),
            "text_hashes": tuple(value["text_hashes"]),
            "sentence_hashes": tuple(value.get("sentence_hashes", ())),
            "context_hashes": tuple(value.get("context_hashes", ())),
            "counts": tuple((str(name), int(n)) for name, n in dict(value["counts"]).items()),
            "files": tuple(FileRecord(**record) for record in value["files"]),
        }
    )
    for name in ("sources", "labels", "issue_ids"):
        if not isinstance(getattr(manifest, name), dict):
            raise TypeError(f"{name} is not an object")
    if not all(isinstance(v, str) for v in (manifest.model, manifest.runtime)) or not isinstance(manifest.dimension, int):
        raise TypeError("model or dimension has the wrong type")
    return manifest


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")


def file_records(folder: Path) -> tuple[FileRecord, ...]:
    """Size and sha256 of every file under `folder` except the manifest itself, in path order."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_FILE)
    return tuple(FileRecord(p.relative_to(folder).as_posix(), p.stat().st_size, sha256_of(p)) for p in paths)


@dataclass(frozen=True, slots=True)
class Stamp:
    """What a stat says about a file. Any write changes mtime and ctime, and ctime cannot be set back
    (short of setting the clock back), so an unchanged stamp means the bytes read are the bytes hashed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def stamp_of(path: Path) -> Stamp | None:
    """The file's stamp; None when it cannot be found."""
    try:
        status = path.stat()
    except OSError:
        return None
    return Stamp(status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)


def verify_file(folder: Path, record: FileRecord) -> tuple[str | None, Stamp | None]:
    """Why the file on disk is not the one `record` lists (None when it is), and its stamp from just before
    it was hashed."""
    path = folder / record.path
    stamp = stamp_of(path)
    if stamp is None:
        return f"缺少 {record.path}", None
    if stamp.size != record.size:
        return f"{record.path} 有 {stamp.size} 字节，清单记录的是 {record.size}", stamp
    try:
        digest = sha256_of(path)
    except OSError as exc:
        return f"{record.path} 无法读取（{_short(exc)}）", stamp
    return (None if digest == record.sha256 else f"{record.path} 已被改动（sha256 不同）"), stamp


def count_problems(manifest: Manifest, measured: Mapping[str, int]) -> list[str]:
    """Counts the loaded build disagrees on: with the manifest, and within each of SAME_COUNTS."""
    problems = [
        f"{name} 为 {measured[name]}，清单记录的是 {expected}"
        for name, expected in manifest.counts
        if name in measured and measured[name] != expected
    ]
    for group in SAME_COUNTS:
        same = {name: measured[name] for name in group if name in measured}
        if len(set(same.values())) > 1:
            problems.append("数目不一致：" + "、".join(f"{name} {n}" for name, n in same.items()))
    return problems


def check(folder: Path, manifest: Manifest) -> dict[str, Stamp]:
    """Raise IndexDamaged naming the first problems if the build's files do not match its manifest; else
    each file's stamp from just before it was hashed."""
    if not manifest.files:
        raise damaged(folder.name, ["清单中没有列出文件"])
    problems: list[str] = []
    stamps: dict[str, Stamp] = {}
    for record in manifest.files:
        problem, stamp = verify_file(folder, record)
        if problem is not None:
            problems.append(problem)
        elif stamp is not None:
            stamps[record.path] = stamp
    if problems:
        raise damaged(folder.name, problems)
    return stamps


def read_checked(folder: Path) -> tuple[Manifest, dict[str, Stamp]]:
    """The manifest of the build in `folder` once every file matches it, with the stamps of all the
    build's files, the manifest's included, from before they were read."""
    manifest_stamp = stamp_of(folder / MANIFEST_FILE)
    manifest = read_manifest(folder)
    stamps = check(folder, manifest)
    return manifest, ({MANIFEST_FILE: manifest_stamp, **stamps} if manifest_stamp else stamps)


class DiskCheck:
    """Whether a loaded build's directory still holds what was loaded from it. While nothing changed it
    costs a stat per file; a file whose stamp changed is verified again (hashed, or the manifest read
    again) once per new stamp, so a touched file costs one hash and a damaged one is reported each time."""

    def __init__(self, folder: Path, manifest: Manifest, stamps: Mapping[str, Stamp]):
        self.folder, self.manifest = folder, manifest
        self._loaded = dict(stamps)
        self._records = {record.path: record for record in manifest.files}
        self._verdicts: dict[str, tuple[Stamp | None, str | None]] = {
            path: (stamp, None) for path, stamp in stamps.items()
        }
        self._lock = threading.Lock()

    def changed_since_load(self) -> list[str]:
        """The files whose stamp is no longer the one they had when they were verified (nothing is read)."""
        return [path for path, stamp in self._loaded.items() if stamp_of(self.folder / path) != stamp]

    def problems(self) -> list[str]:
        """Why the build on disk no longer verifies (empty while it does)."""
        with self._lock:
            found = []
            for path in self._loaded:
                now = stamp_of(self.folder / path)
                seen, problem = self._verdicts[path]
                if now != seen:
                    problem = self._verify_again(path, now)
                    self._verdicts[path] = (now, problem)
                if problem is not None:
                    found.append(problem)
            return found

    def _verify_again(self, path: str, now: Stamp | None) -> str | None:
        if now is None:
            return f"缺少 {path}"
        if path != MANIFEST_FILE:
            return verify_file(self.folder, self._records[path])[0]
        try:
            unchanged = read_manifest(self.folder) == self.manifest
        except (IndexDamaged, IndexMismatch):
            unchanged = False
        return None if unchanged else f"{MANIFEST_FILE} 已被改动"


def damaged(build_id: str, problems: list[str]) -> IndexDamaged:
    return IndexDamaged(f"索引 {build_id} 已损坏：{_listed(problems)}；{FIX}")


def damaged_on_disk(build_id: str, problems: list[str]) -> str:
    """For /healthz: the build being served no longer verifies on disk (its content in memory was verified)."""
    return (f"正在使用的索引 {build_id} 在磁盘上已损坏：{_listed(problems)}；回答仍来自载入时校验过的内容，"
            f"但重启后将无法使用它；{FIX}")


def _listed(problems: list[str], limit: int = 3) -> str:
    more = f"（另有 {len(problems) - limit} 处）" if len(problems) > limit else ""
    return "；".join(problems[:limit]) + more


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
