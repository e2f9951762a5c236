"""Whole-world count semantics (docs/generator.md, "Count semantics").

A number in the prompt is the number of that kind in the whole world. The kind is every prefab
that answers the phrase's noun ("six boats" = six of any boat prefab), so once a phrase is
counted no other step (filler, palette, settlement, structure, scatter) may add a prefab from
its answer set. The evaluator counts the same sets over the emitted world, independently of the
trace.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import cache
from .lexicon import SETTLEMENT_NOUNS, SYNONYMS, canonical, lemma

if TYPE_CHECKING:
    from .catalog import Catalog
    from .intent import Intent, KindRequest


def _forms(word: str) -> set[str]:
    """The word, its lemma and the words that mean it; a place is not one of its buildings
    ("village" leads retrieval to cottages, but a prefab tagged "village", a well, is no
    cottage)."""
    forms = {canonical(word), lemma(word)}
    return forms | {k for k, v in SYNONYMS.items() if v in forms and k not in SETTLEMENT_NOUNS}


def answer_set(catalog: Catalog, terms: Sequence[str]) -> frozenset[int]:
    """Prefab numbers that answer a phrase: every term (with its lemma and synonyms) among
    the prefab's name words and tags (a kayak tagged "boat" is one of "six boats")."""
    memo = cache.table(catalog, "answers")
    key = tuple(terms)
    hit = memo.get(key)
    if hit is None:
        primary = catalog.retrieval.words
        need = [_forms(t) for t in terms]
        hit = frozenset(i for i, words in enumerate(primary)
                        if all(words & f for f in need))
        if not hit and len(terms) > 1:  # "fishing boats": the head noun decides
            hit = frozenset(i for i, words in enumerate(primary) if words & need[-1])
        memo[key] = hit
    return hit


def counted(req: KindRequest) -> bool:
    """A number (exact or vague, "a"/"the" included) fixes this kind's whole-world count."""
    return req.count is not None


def excluded_prefabs(catalog: Catalog, intent: Intent, matched: Sequence[object]) -> np.ndarray:
    """Bool per prefab: a counted kind's answer set (matched requests only), which no step but
    the request itself may place."""
    out = np.zeros(len(catalog.prefabs), dtype=bool)
    for kr, m in zip(intent.requests, matched, strict=True):
        if m is not None and counted(kr):
            out[list(answer_set(catalog, kr.terms))] = True
            out[getattr(m, "pidx", [])] = True  # what retrieval chose, whatever its words
    return out


def world_count(catalog: Catalog, terms: Sequence[str], pidx: np.ndarray, group: np.ndarray,
                index: int, other_requests: Sequence[int]) -> int:
    """Instances of the kind in the whole world: the request's own plus any instance of its
    answer set placed by a step that is not another request (filler, settlement, roads)."""
    answers = np.zeros(len(catalog.prefabs), dtype=bool)
    answers[list(answer_set(catalog, terms))] = True
    mine = group == index
    others = np.isin(group, np.array(other_requests, dtype=np.int64))
    return int(mine.sum() + (answers[pidx] & ~mine & ~others).sum())
