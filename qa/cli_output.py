"""What `qa ask` and `qa issues` print for people: the answer with its source and confidence in
words, and the issues as a table aligned by display width (a Chinese character takes two columns)."""

from __future__ import annotations

from typing import Sequence

import click

from .http.models import AskResponse, Citation
from .schema import Issue

BULLETIN = "《科技情报参考》"


def percent(probability: float) -> int:
    """Rounded down, so it never reaches the floor of a word the answer did not get (0.8496 → 84, not 85)."""
    return int(probability * 100 + 1e-9)


def _distinct_articles(citations: Sequence[Citation], skip: str | None = None) -> list[Citation]:
    """One citation per article, in order; `skip` leaves out the answer's own article."""
    seen = {skip} if skip else set()
    distinct = []
    for citation in citations:
        if citation.article.id not in seen:
            seen.add(citation.article.id)
            distinct.append(citation)
    return distinct


def _source(citation: Citation) -> str:
    return f"{citation.issue.label} · {citation.article.title}"


def print_answer(response: AskResponse) -> None:
    if response.resolved_question:
        click.echo(f"理解为：{response.resolved_question}")
    answer = response.answer
    if response.found and answer is not None:
        click.echo(f"答：{answer.text}")
        click.echo(f"出处：{BULLETIN}{_source(answer.citation)}")
        click.echo(f"{answer.confidence_words}（答对的概率约 {percent(answer.confidence)}%）")
        for cited in _distinct_articles(answer.supporting, skip=answer.citation.article.id):
            click.echo(f"  同样的内容也见：{_source(cited)}")
        others = _distinct_articles(response.related, skip=answer.citation.article.id)
        heading = "其他相关段落："
    else:
        click.echo(f"未找到：{response.message}")
        if response.other_period is not None:
            click.echo(f"  （{response.other_period.stated}的数字见：{_source(response.other_period.citation)}）")
        others = _distinct_articles(response.related)
        heading = "最接近的文章："
    if others:
        click.echo(heading)
        for n, citation in enumerate(others, start=1):
            click.echo(f"  {n}. {_source(citation)}")
    if response.related_articles:
        click.echo("其他期次的相关文章：")
        for item in response.related_articles:
            click.echo(f"  · {item.issue.label} · {item.article.title}（{item.article.id}）")


def issue_table(issues: Sequence[Issue]) -> str:
    from tabulate import tabulate

    rows = [(issue.id, issue.label, len(issue.articles), issue.source) for issue in issues]
    return tabulate(rows, headers=("期次 id", "期次", "文章数", "文件"), tablefmt="simple", disable_numparse=True,
                    colalign=("left", "left", "right", "left"))
