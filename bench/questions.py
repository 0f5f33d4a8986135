"""Questions the server has never seen: made from the bulletins' own clauses with a few question forms, so
every request costs a model call (the server caches the embeddings of questions it was asked before)."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

from qa.build import load_corpus

FORMS = ("{clause}的具体情况如何？", "{clause}是多少？", "请问{clause}有哪些做法？", "关于{clause}，文中怎么说？")
ASKED_AGAIN = [
    "2023年前三季度贵州技术合同成交额是多少？",
    "西安推广“一院一所一校”模式孵化出了哪些科创板上市企业？",
    "池州怎样健全科技成果捕捉机制？",
    "宜昌2022年技术合同成交额？",
    "青海吸引了哪个国家级数据中心落户？",
    "截至2022年8月底，黄山全市拥有多少家高新技术企业？",
    "南京有多少家国家级科技企业孵化器？",
    "衢州选派了多少名科研人员结对重点企业？",
    "甘肃省目前有多少家国家级科技企业孵化器？",
    "呼包鄂乌地区科技型中小企业占比是多少？",
]
"""Asked again and again for the labelled repeated-question figure (answered from the embedding cache)."""
_CLAUSE_END = re.compile(r"[，。！？；：、\n]")


def _clauses(seeds_dir: Path) -> list[str]:
    clauses = []
    for issue in load_corpus(seeds_dir):
        for article in issue.articles:
            for clause in _CLAUSE_END.split(article.text):
                clause = clause.strip(" “”\"（）()")
                if 6 <= len(clause) <= 40:
                    clauses.append(clause)
    return list(dict.fromkeys(clauses))


class NewQuestions:
    """A thread-safe source of questions, none repeated: bulletin clauses × FORMS, shuffled with a fixed seed;
    when those run out, the same again with a running number (still a text the server has not seen)."""

    def __init__(self, seeds_dir: Path, seed: int = 7):
        self._questions = [form.format(clause=c) for c in _clauses(seeds_dir) for form in FORMS]
        random.Random(seed).shuffle(self._questions)
        self._next = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._questions)

    def take(self) -> str:
        with self._lock:
            n, self._next = self._next, self._next + 1
        question = self._questions[n % len(self._questions)]
        return question if n < len(self._questions) else f"{question}（{n}）"

    def take_many(self, count: int) -> list[str]:
        return [self.take() for _ in range(count)]
