"""The reader's lexicon (lexicon.json): question words, units and types of things, compiled once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Lexicon:
    kinds: tuple[tuple[str, re.Pattern], ...]  # checked in order: the first that matches wins
    asked_units: dict[str, re.Pattern]
    number: re.Pattern  # a figure with its unit ('428.73亿元', '17家', '74.1%', '十大')
    money: re.Pattern
    generic_regions: frozenset[str]
    district: re.Pattern  # a district or county by its suffix ('碑林区', '青石县'), jieba tagging it 'n' or not
    provinces: frozenset[str]
    organisation: re.Pattern
    measure_verbs: re.Pattern
    stop_terms: frozenset[str]
    unit_groups: dict[str, frozenset[str]]  # a counting unit → the units a text may use for it
    counting_units: tuple[str, ...]  # every counting unit, longest first ('人次' before '次')


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    data = json.loads(resources.files("qa.reader").joinpath("lexicon.json").read_text(encoding="utf-8"))
    units = data["number_units"]
    number = re.compile(
        r"(?:约|近|超|逾|超过|突破)?\d[\d,.]*(?:\s*[—~～\-]\s*\d[\d,.]*)?\s*"
        rf"(?:(?:余|多)\s*(?=万|亿|千|百))?(?:%|‰|万亿|亿|万|千|百)?(?:(?:余|多)\s*(?={units}))?"
        rf"(?:{data['money_units']}|{units})?(?:以上|左右|余)?"
        rf"|(?<!第){data['written_counts']}"
    )
    return Lexicon(
        kinds=tuple((name, re.compile(pattern)) for name, pattern in data["kinds"].items()),
        asked_units={name: re.compile(pattern) for name, pattern in data["asked_units"].items()},
        number=number,
        money=re.compile(data["money_units"]),
        generic_regions=frozenset(data["generic_regions"]),
        district=re.compile(rf"(?!(?:{'|'.join(data['not_districts'])})$)[\u4e00-\u9fff]{{2,3}}(?:{data['district_suffix']})"),
        provinces=frozenset(data["provinces"]),
        organisation=re.compile(data["organisation_suffixes"]),
        measure_verbs=re.compile(data["measure_verbs"]),
        stop_terms=frozenset(data["stop_terms"]),
        unit_groups=_unit_groups(data["unit_groups"]),
        counting_units=tuple(sorted(set(units.split("|")) | {u for group in data["unit_groups"] for u in group},
                                    key=lambda u: (-len(u), u))),
    )


def _unit_groups(groups: list[list[str]]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for group in groups:
        for unit in group:
            found.setdefault(unit, {unit}).update(group)
    return {unit: frozenset(units) for unit, units in found.items()}
