"""Issue labels for bulletins without an issue header, kept in `<seeds>/issues.json`:
{"file name": {"label": "2024年第3期"}}. Supplied with `qa add --label` or by hand; an entry may
also fix the issue id ("id": "2023-a"), a short one to type for an issue that prints no number.
Also the one order issues are shown in everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from .errors import BadBulletin
from .schema import Issue

LABELS_FILE = "issues.json"
ISSUE_ID_RE = re.compile(r"[0-9a-z][0-9a-z-]{0,23}")
_DATED_RE = re.compile(r"(\d{4})\s*年\s*第\s*(\d{1,3})\s*期")


def _entries(seeds_dir: Path) -> dict[str, dict]:
    path = seeds_dir / LABELS_FILE
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadBulletin(f"{path}：无法读取期次标签（{exc}）") from exc
    return entries


def read_labels(seeds_dir: Path) -> dict[str, str]:
    return {source: entry["label"] for source, entry in _entries(seeds_dir).items() if entry.get("label")}


def read_issue_ids(seeds_dir: Path) -> dict[str, str]:
    """Issue ids fixed by hand in issues.json; an id that is not short lowercase letters, digits and
    '-' is refused rather than put into URLs."""
    ids = {source: entry["id"] for source, entry in _entries(seeds_dir).items() if entry.get("id")}
    for source, issue_id in ids.items():
        if not ISSUE_ID_RE.fullmatch(issue_id):
            raise BadBulletin(f"{seeds_dir / LABELS_FILE}：{source} 的期次 id {issue_id!r} 只能用小写字母、数字和 -（最多 24 个）")
    return ids


def display_order(issues: Iterable[Issue]) -> list[Issue]:
    """Newest first by year and issue number; issues that print no number last, in file order."""
    issues = list(issues)

    def key(indexed: tuple[int, Issue]) -> tuple:
        position, issue = indexed
        match = _DATED_RE.search(issue.label)
        return (0, -int(match.group(1)), -int(match.group(2)), position) if match else (1, 0, 0, position)

    return [issue for _, issue in sorted(enumerate(issues), key=key)]


def write_label(seeds_dir: Path, source: str, label: str | None) -> None:
    """Record (or with None, forget) the label of a bulletin file in the seeds directory."""
    path = seeds_dir / LABELS_FILE
    entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if label is None:
        entries.pop(source, None)
    else:
        entries[source] = {**entries.get(source, {}), "label": label}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def forget_label(seeds_dir: Path, source: str) -> None:
    write_label(seeds_dir, source, None)
