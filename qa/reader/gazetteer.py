"""China's administrative divisions — provinces, prefectures and counties, the 3,500 names of the `cpca`
package's table — to tell a place a question names ('烟台', '红安县', '云南昆明') from a word jieba takes for one
('上台', '中居', '科技园', '城市'): only a real place is a hard constraint on the answer."""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path

from ..errors import QAError
from ..keywords import place_stem
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
def _province_codes() -> dict[str, frozenset[str]]:
    """Each division's name and stem → the provinces (the codes' first two digits) its divisions lie in
    ('朝阳' → 北京's and 辽宁's; '新建' → 江西's)."""
    codes: dict[str, set[str]] = {}
    for code, name in _divisions():
        for key in (name, place_stem(name)):
            codes.setdefault(key, set()).add(code[:2])
    return {key: frozenset(found) for key, found in codes.items()}


def province_code(province: str) -> str | None:
    """The two-digit code of a province by its short name ('宁夏' → '64')."""
    return _province_code_of().get(province)


@lru_cache(maxsize=1)
def _province_code_of() -> dict[str, str]:
    """Each province's short name (lexicon) → its two-digit code, read once from the table."""
    provinces = [(code[:2], name) for code, name in _divisions() if code.endswith("0000")]
    found = {short: next((code for code, name in provinces if name.startswith(short)), None)
             for short in lexicon().provinces}
    return {short: code for short, code in found.items() if code}


def outside(place: str, provinces: frozenset[str]) -> bool:
    """Is a county-level place named beside a province it is not in? — then it is no place but a word with a
    county's name: '宁夏新建…' is 'newly built' (新建 is 江西's), '湖北…大城市' a big city (大城 is 河北's)."""
    found = _province_codes().get(place)
    return bool(provinces) and place in county_names() and found is not None and found.isdisjoint(provinces)


def is_place(word: str, known: frozenset[str] = frozenset()) -> bool:
    """A division's name, a province or a province and what follows it ('云南昆明', '青海柴达木盆地'), or a place
    the bulletins name (`known`) with a division's suffix ('宁川县', and so '宁川'). jieba tags many plain words
    of the bulletins as places ('城市', '上市', '广度'); without a suffix, only the gazetteer makes one a place. A
    place under an older suffix ('临川市', now 临川区) is one; see `outside` for a county's name used as a word."""
    stem = place_stem(word)
    if {word, stem} & division_names() or any(word.startswith(province) for province in lexicon().provinces):
        return True
    return (word in known and stem != word) or any(place_stem(other) == word != other for other in known)
