"""'黄山市是如何加速科技成果转化的？' asks what a whole article is about: the answer is the list of
measures the article enumerates (一是…二是…, （一）…), each a verbatim item with its offsets."""

from __future__ import annotations

import re
from itertools import islice
from typing import Iterator

from ..chunking import sentence_spans
from ..corpus import ENUMERATION_RE
from ..periods import cn_number
from ..schema import AnswerItem
from .features import Pair, _coverage
from .question import Question
from .spans import clauses

MAX_ITEMS_CHARS = 160  # the whole list, as the issue bounds it
MAX_ITEM_CHARS = 40  # a longer enumerated sentence contributes its first clause


def enumerated_items(question: Question, best: Pair, allowed: list[Pair]) -> tuple[AnswerItem, ...]:
    """The article's enumerated measures when a how-question, or one that asks for several measures or aspects
    ('从哪五个方面…', '有哪几项举措'), is about the article as a whole — its title states the question at least as fully
    as the best sentence does and no one measure's lead does as fully ('…如何优化科技计划体系布局？' asks about
    '一是优化科技计划体系布局机制'), or that sentence announces them — else (). Not for other questions: measured on
    the held-out questions, the lists given to them ('…是谁写的？', '…印发了什么文件？' against an article that
    enumerates its measures) were right 2 times in 15."""
    if question.kind != "how" and not _ASKS_FOR_SEVERAL_RE.search(question.text):
        return ()
    article, sentence = best.candidate.article, best.candidate.sentence
    title_coverage = _coverage(question, article.title, ())
    announcement = _ANNOUNCES_RE.search(sentence.text)  # '从五个方面优化…' before 一是…五是
    announces = bool(announcement)
    if title_coverage < max(0.5, best.coverage) and not announces:
        return ()
    found = [p.candidate.sentence for p in allowed
             if p.candidate.article.id == article.id and ENUMERATION_RE.match(p.candidate.sentence.text)]
    if found:
        leads = {enumerated.start: (enumerated.start, enumerated.end) for enumerated in found}
        # The rest of the same enumeration, wherever retrieval did not reach it ('五是…' two paragraphs on).
        shape = _shape(min(found, key=lambda enumerated: enumerated.start).text)
        leads.update({start: (start, end) for start, end in sentence_spans(article.text) if _shape(article.text[start:end]) == shape})
    else:  # '健全“四个机制”' and four paragraphs after it, each opening with its measure: '健全科技成果捕捉机制。…'
        leads = {start: (start, end) for start, end in _paragraph_leads(article.text, sentence.end, _count(announcement))}
    if not leads:
        return ()
    if not announces and any(_coverage(question, article.text[a:b], ()) >= title_coverage for a, b in leads.values()):
        return ()  # one measure's lead states the question as fully as the title: it asks about that measure
    items, used = [], 0
    for _, (start, end) in sorted(leads.items()):
        if end - start > MAX_ITEM_CHARS:
            start, end = clauses(article.text, start, end)[0]
        text = article.text[start:end].rstrip("。；;，,")
        end = start + len(text)
        if used + len(text) > MAX_ITEMS_CHARS and len(items) >= 2:
            break
        items.append(AnswerItem(text, start, end))
        used += len(text) + 1
    return tuple(items) if len(items) >= 2 else ()


_ANNOUNCES_RE = re.compile(
    r"[两二三四五六七八九十\d]+\s*(?:个|项|条|大)?(?:方面|措施|举措|机制|创新|突破|任务|重点|环节)|以下|如下"
)
_ASKS_FOR_SEVERAL_RE = re.compile(
    r"哪(?:几|些|[两二三四五六七八九十])\s*(?:个|项|条|大)?(?:方面|措施|举措|机制|任务|重点|环节|做法|办法|路径)"
)
_NUMERAL_RE = re.compile(r"[一二三四五六七八九十]+|\d{1,2}")


def _count(announcement: re.Match | None) -> int:
    """How many things an announcement names ('四个机制' → 4); 0 when it names no number ('如下')."""
    if announcement is None:
        return 0
    numeral = re.match(r"[两二三四五六七八九十\d]+", announcement.group(0))
    return cn_number(numeral.group(0)) if numeral else 0


def _paragraphs_after(text: str, position: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each paragraph (line) after the one holding `position`, in order."""
    line_end = text.find("\n", position)
    start = line_end + 1 if line_end >= 0 else len(text)
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            yield start, end
        start = end + 1


def _paragraph_leads(text: str, position: int, count: int) -> list[tuple[int, int]]:
    """The short first sentences of the `count` paragraphs after the one holding `position`, when each of them opens
    with one and goes on — the announced measures set as leads without numerals. [] when they do not."""
    if count < 2:
        return []
    leads = []
    for start, end in islice(_paragraphs_after(text, position), count):
        first = next(sentence_spans(text, start, end), None)
        if first is None or first[1] - first[0] > MAX_ITEM_CHARS or not text[first[1]:end].strip():
            return []
        leads.append(first)
    return leads if len(leads) == count else []


def _shape(sentence: str) -> str | None:
    """The form of an enumeration's lead with its numeral taken out: '三是引育…' → 'N是'; None if it has none."""
    match = ENUMERATION_RE.match(sentence.lstrip())
    return _NUMERAL_RE.sub("N", match.group(0)) if match else None
