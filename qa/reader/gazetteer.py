"""China's administrative divisions — provinces, prefectures and counties, the 3,500 names of the `cpca`
package's table — to tell a place a question names ('烟台', '红安县', '云南昆明') from a word jieba takes for one
('上台', '中居', '科技园', '城市'): only a real place is a hard constraint on the answer."""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path

from ..errors import QAError
from ..keywords import base_words, place_stem
from .lexicon import lexicon


class GazetteerUnavailable(QAError):
    pass


@lru_cache(maxsize=1)
def _divisions() -> tuple[tuple[str, str], ...]:
    """(adcode, name) of every division: the code's last digits after the prefecture's are 0 above the county level."""
    spec = importlib.util.find_spec("cpca")  # found, not imported: importing cpca loads pandas
    folders = list(spec.submodule_search_locations or ()) if spec else []
    table = Path(folders[0]) / "resources" / "adcodes.csv" if folders else None
    if table is None or not table.is_file():
        raise GazetteerUnavailable("找不到 cpca 的行政区划表（resources/adcodes.csv）；请运行 make install")
    with table.open(encoding="utf-8", newline="") as rows:
        return tuple((row["adcode"], row["name"]) for row in csv.DictReader(rows) if row.get("name"))


@lru_cache(maxsize=1)
def division_names() -> frozenset[str]:
    """Every division's name and its stem ('海曙区', '海曙')."""
    names = [name for _, name in _divisions()]
    return frozenset(names) | frozenset(place_stem(name) for name in names)


@lru_cache(maxsize=1)
def county_names() -> frozenset[str]:
    """The names (and stems) of county-level divisions — districts, counties, county-level cities ('集美区', '醴陵') —
    that no province or prefecture also bears ('朝阳' is a prefecture too)."""
    county, higher = set(), set()
    for code, name in _divisions():
        (county if code[4:6] != "00" else higher).update({name, place_stem(name)})
    return frozenset(county - higher)


@lru_cache(maxsize=1)
def division_suffixes() -> dict[str, frozenset[str]]:
    """The last characters the divisions of a stem are named with ('大城' → {'县'})."""
    suffixes: dict[str, set[str]] = {}
    for _, name in _divisions():
        suffixes.setdefault(place_stem(name), set()).add(name[-1])
    return {stem: frozenset(ends) for stem, ends in suffixes.items()}


_PRECISE_SUFFIXES = frozenset("市县区旗")  # '州' and '盟' are also said of prefectures named otherwise ('恩施州')


def _common_word_misnamed(word: str, stem: str) -> bool:
    """A word of jieba's own dictionary with a division's stem but another division's suffix: '大城市' is a big
    city (the division is 大城县). A place the table lists under an older suffix ('邵东市', once 邵东县) is no
    word of the dictionary, nor is a bulletin's own place."""
    ends = division_suffixes().get(stem)
    return (word != stem and word[-1] in _PRECISE_SUFFIXES and ends is not None and word[-1] not in ends
            and word in base_words())


def is_place(word: str, known: frozenset[str] = frozenset()) -> bool:
    """A division's name, a province or a province and what follows it ('云南昆明', '青海柴达木盆地'), or a place
    the bulletins name (`known`) with a division's suffix ('宁川县', and so '宁川'). jieba tags many plain words
    of the bulletins as places ('城市', '上市', '广度'); without a suffix, only the gazetteer makes one a place, and
    a common word with a division's stem and another suffix is none ('大城市', see _common_word_misnamed)."""
    stem = place_stem(word)
    if _common_word_misnamed(word, stem):
        return False
    if {word, stem} & division_names() or any(word.startswith(province) for province in lexicon().provinces):
        return True
    return (word in known and stem != word) or any(place_stem(other) == word != other for other in known)
