"""'黄山市是如何加速科技成果转化的？' asks what a whole article is about: the answer is the list of
measures the article enumerates (一是…二是…, （一）…), each a verbatim item with its offsets."""

from __future__ import annotations

from ..corpus import ENUMERATION_RE
from ..schema import AnswerItem
from .features import Pair, _coverage
from .question import Question
from .spans import clauses

MAX_ITEMS_CHARS = 160  # the whole list, as the issue bounds it
MAX_ITEM_CHARS = 40  # a longer enumerated sentence contributes its first clause


def enumerated_items(question: Question, best: Pair, allowed: list[Pair]) -> tuple[AnswerItem, ...]:
    """The article's enumerated measures when the question asks about the article as a whole —
    its title states the question at least as fully as the best sentence does — else ()."""
    if question.kind not in ("how", "entity"):
        return ()
    article = best.candidate.article
    title_coverage = _coverage(question, article.title, ())
    if title_coverage < max(0.5, best.coverage):
        return ()
    leads = sorted({p.candidate.sentence.start: p.candidate for p in allowed
                    if p.candidate.article.id == article.id and ENUMERATION_RE.match(p.candidate.sentence.text)}.items())
    items, used = [], 0
    for _, candidate in leads:
        sentence = candidate.sentence
        start, end = sentence.start, sentence.end
        if end - start > MAX_ITEM_CHARS:
            start, end = clauses(article.text, start, end)[0]
        text = article.text[start:end].rstrip("。；;，,")
        end = start + len(text)
        if used + len(text) > MAX_ITEMS_CHARS and len(items) >= 2:
            break
        items.append(AnswerItem(text, start, end))
        used += len(text) + 1
    return tuple(items) if len(items) >= 2 else ()
