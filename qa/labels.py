"""Issue labels for bulletins without an issue header, kept in `<seeds>/issues.json`:
{"file name": {"label": "2024年第3期"}}. Supplied with `qa add --label` or by hand."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import BadBulletin

LABELS_FILE = "issues.json"


def read_labels(seeds_dir: Path) -> dict[str, str]:
    path = seeds_dir / LABELS_FILE
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadBulletin(f"{path}: cannot read issue labels ({exc})") from exc
    return {source: entry["label"] for source, entry in entries.items() if entry.get("label")}


def write_label(seeds_dir: Path, source: str, label: str | None) -> None:
    """Record (or with None, forget) the label of a bulletin file in the seeds directory."""
    path = seeds_dir / LABELS_FILE
    entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if label is None:
        entries.pop(source, None)
    else:
        entries[source] = {"label": label}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def forget_label(seeds_dir: Path, source: str) -> None:
    write_label(seeds_dir, source, None)
