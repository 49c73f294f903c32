"""Recommendations: items that are often ordered together with what a customer orders often.

Every order adds one to the co-occurrence count of each pair of distinct items in it (per
store). For a customer, an item they have never ordered scores the sum, over the items they
have ordered, of (how many times they ordered that item) x (orders that had both). The item
contributing most is the reason given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Item = tuple[str, str]  # (store_id, menu_item_id)


@dataclass(frozen=True)
class Recommendation:
    store_id: str
    menu_item_id: str
    name: str
    score: int
    because_of: str


def pairs(items: Iterable[Item]) -> list[tuple[Item, Item]]:
    """Both directions of every pair of distinct items of one order."""
    distinct = sorted(set(items))
    return [(a, b) for a in distinct for b in distinct if a != b and a[0] == b[0]]


def rank(
    ordered: Mapping[Item, int],
    together: Mapping[Item, Mapping[Item, int]],
    names: Mapping[Item, str],
    max_results: int,
) -> list[Recommendation]:
    """``ordered``: the customer's items and how often they ordered each; ``together[a][b]``:
    orders that had both ``a`` and ``b``."""
    scores: dict[Item, int] = {}
    best: dict[Item, tuple[int, Item]] = {}
    for a, times in ordered.items():
        for b, both in together.get(a, {}).items():
            if b in ordered or both <= 0:
                continue
            weight = times * both
            scores[b] = scores.get(b, 0) + weight
            if b not in best or (weight, best[b][1][1]) > (best[b][0], a[1]):
                best[b] = (weight, a)
    top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:max_results]
    return [
        Recommendation(
            store_id=item[0],
            menu_item_id=item[1],
            name=names.get(item, item[1]),
            score=score,
            because_of=best[item][1][1],
        )
        for item, score in top
    ]
