"""The manifest of one index build: a typed record of how the build was made and what it holds,
its loader, and its checks. Every file of the build directory is listed with its size and sha256
(whatever its name, so files added to builds later are covered too), with named counts that the
loaded build must agree with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Iterable, Mapping

from .errors import IndexDamaged, IndexMismatch
from .seeds import sha256_of

FORMAT_VERSION = 3
"""Bump when the layout of a build directory changes; older builds are refused with `qa build --force`.
2: evidence units (sentences, their vectors, contexts, term statistics); 3: every file's size and
sha256, named counts, issue ids."""
MANIFEST_FILE = "manifest.json"
FIX = "请运行 qa build --force"
SAME_COUNTS = (("chunks", "vectors", "dense", "keyword"), ("sentences", "sentence_vectors"))
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
        return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


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


def file_problems(folder: Path, manifest: Manifest) -> list[str]:
    """Why the files on disk are not the files the manifest lists (empty when they are)."""
    if not manifest.files:
        return ["清单中没有列出文件"]
    problems: list[str] = []
    for record in manifest.files:
        path = folder / record.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"缺少 {record.path}")
            continue
        if size != record.size:
            problems.append(f"{record.path} 有 {size} 字节，清单记录的是 {record.size}")
        elif sha256_of(path) != record.sha256:
            problems.append(f"{record.path} 已被改动（sha256 不同）")
    return problems


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


def check(folder: Path, manifest: Manifest) -> None:
    """Raise IndexDamaged naming the first problems if the build's files do not match its manifest."""
    problems = file_problems(folder, manifest)
    if problems:
        raise damaged(folder.name, problems)


def damaged(build_id: str, problems: list[str]) -> IndexDamaged:
    return IndexDamaged(f"索引 {build_id} 已损坏：{_listed(problems)}；{FIX}")


def _listed(problems: list[str], limit: int = 3) -> str:
    more = f"（另有 {len(problems) - limit} 处）" if len(problems) > limit else ""
    return "；".join(problems[:limit]) + more


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
