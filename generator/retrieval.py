"""Matching prompt nouns to catalog prefabs: BM25 over names, tags and descriptions.

Why BM25 and not an embedding model: the catalog is small (hundreds of prefabs), the generator
must be pure and deterministic, and BM25 with a lemmatiser plus a synonym table (lexicon.py)
gets "trees" -> Oak/Pine/Birch Tree and "turret" -> towers without any model download. Names
weigh three times, tags twice, descriptions once, because names and tags are curated vocabulary.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .lexicon import ATTRIBUTE_TAGS, ERA_ATTRIBUTES, SCALE_DOWN, SCALE_UP, SYNONYMS, canonical, lemma, tokenize

if TYPE_CHECKING:
    from .catalog import Catalog

K1 = 1.2
B = 0.75
WORLD_BOOST = 1.6  # among in-genre candidates, the world's own prefabs still rank first
ATTRIBUTE_BOOST = 0.8  # per matched attribute tag
HEAD_BOOST = 1.5  # the noun is what the prefab is: "City Bus" for "buses", not "Bus Stop"
VARIETY_RATIO = 0.6  # plural requests take every prefab scoring within 60 % of the best
MAX_VARIANTS = 4
SCENE_BOOST = 2.0  # a prefab that fits the scene (placement.fits) outranks one that does not
SCENE_TIE = 0.7  # ... when it already scores within 70 % of the best candidate


@dataclass(frozen=True, slots=True)
class Match:
    prefab_ids: tuple[str, ...]
    weights: tuple[float, ...]  # relative share of instances per prefab (sums to 1)


class Bm25Index:
    """Okapi BM25 over the catalog; built once per Catalog (cached on it)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        lengths = []
        for i, p in enumerate(catalog.prefabs):
            words = (tokenize(p.name) * 3 + [t for tag in p.tags for t in tokenize(tag)] * 2
                     + tokenize(p.description))
            counts = Counter(lemma(w) for w in words)
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term][i] = tf
        n = len(catalog.prefabs)
        self.doc_len = np.array(lengths, dtype=np.float64)
        self.avg_len = float(self.doc_len.mean())
        self.postings = {t: (np.fromiter(d.keys(), dtype=np.int64),
                             np.fromiter(d.values(), dtype=np.float64))
                         for t, d in postings.items()}
        self.idf = {t: math.log(1 + (n - len(d) + 0.5) / (len(d) + 0.5))
                    for t, d in postings.items()}
        self.tag_sets = [frozenset(lemma(t) for tag in p.tags for t in tokenize(tag))
                         for p in catalog.prefabs]
        self.words = [p.words for p in catalog.prefabs]
        self._memo: dict[tuple[tuple[str, ...], tuple[str, ...], str, bool, frozenset[str]],
                         Match | None] = {}
        # what the prefab is: the last word of its name and its first tag ("Bus Stop" is a
        # stop, a "Watchtower" a tower, a "Bastion" tagged tower first a tower)
        self.heads = [frozenset(lemma(w) for w in tokenize(p.name)[-1:] + list(p.tags[:1])) for p in catalog.prefabs]
        # name words plus the first two tags: what a prefab *is* (tags after that describe it)
        self.primary = [frozenset(lemma(w) for w in tokenize(p.name) + list(p.tags[:2]))
                        for p in catalog.prefabs]

    def scores(self, terms: dict[str, float]) -> np.ndarray:
        """BM25 score of every prefab for weighted query terms."""
        out = np.zeros(len(self.doc_len))
        for term, weight in terms.items():
            post = self.postings.get(term)
            if post is None:
                continue
            docs, tf = post
            norm = tf + K1 * (1 - B + B * self.doc_len[docs] / self.avg_len)
            out[docs] += weight * self.idf[term] * tf * (K1 + 1) / norm
        return out

    def is_kind_word(self, word: str) -> bool:
        """True if the word (after lemma/synonym) names something in the catalog."""
        return canonical(word) in self.catalog.vocabulary or lemma(word) in self.catalog.vocabulary

    def match(self, terms: tuple[str, ...], attributes: tuple[str, ...], world_type: str,
              single: bool, fits: frozenset[str] = frozenset()) -> Match | None:
        """Best prefab(s) for a noun phrase; None when its head noun is not in the catalog.

        ``fits``: the scene's tags (palette.scene_fits): prefabs carrying one of them in
        ``placement.fits`` score x SCENE_BOOST, so "towers" in a village are stone watchtowers,
        not lifeguard towers (a preference among candidates within SCENE_TIE of the best, never a
        filter: the kind asked for always wins, "pine trees" are pines)."""
        key = (tuple(terms), tuple(attributes), world_type, single, fits)
        if key not in self._memo:  # pure function of its arguments: memoised per catalog
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[key] = self._match(*key)
        return self._memo[key]

    def _match(self, terms: tuple[str, ...], attributes: tuple[str, ...], world_type: str,
               single: bool, fits: frozenset[str]) -> Match | None:
        if not terms:
            return None
        query: dict[str, float] = {}
        for t in terms:
            query[canonical(t)] = 1.0
            query.setdefault(lemma(t), 0.5)
        head_forms = {canonical(terms[-1]), lemma(terms[-1])}
        head_forms |= {k for k, v in SYNONYMS.items() if v in head_forms}
        candidates = [i for i, w in enumerate(self.primary) if w & head_forms]
        if not candidates:
            candidates = [i for i, w in enumerate(self.words) if w & head_forms]
        if not candidates:
            return None
        wanted = {lemma(ATTRIBUTE_TAGS.get(a, a)) for a in attributes} | {lemma(a) for a in attributes}
        # attributes steer before the genre does: a single thing is a prefab that carries
        # the attribute ("a sunken ship" is the wreck; many keep their variety, the boost
        # below prefers them: "a dark forest" is not all dead trees), else one of the
        # attribute's era ("a ruined tower" is a stone tower, not a lifeguard's), when any
        # candidate is one; sizes only scale
        steer = wanted - SCALE_UP - SCALE_DOWN
        if steer:
            tagged = [i for i in candidates if steer & self.tag_sets[i]] if single else []
            eras = frozenset().union(*(ERA_ATTRIBUTES.get(a, frozenset()) for a in attributes))
            candidates = tagged or [i for i in candidates
                                    if eras & set(self.catalog.prefabs[i].world_types)] or candidates
        if world_type:  # hard genre filter: off-genre prefabs only when nothing in-genre fits
            in_genre = [i for i in candidates if world_type in self.catalog.prefabs[i].world_types]
            candidates = in_genre or candidates
        base = self.scores(query)
        ranked = []
        for i in candidates:
            p = self.catalog.prefabs[i]
            s = base[i] + 0.01  # a head hit always counts, even with zero BM25 mass
            if world_type in p.world_types:
                s *= WORLD_BOOST
            s *= 1.0 + ATTRIBUTE_BOOST * len(wanted & self.tag_sets[i])
            if any(w.endswith(h) for w in self.heads[i] for h in head_forms if len(h) > 2):
                s *= HEAD_BOOST
            ranked.append((-s, p.id, s))
        if fits:  # among near-equals only: "pine trees" stay pines in a temperate scene
            top = max(r[2] for r in ranked)
            ranked = [(-s * SCENE_BOOST, pid, s * SCENE_BOOST)
                      if s >= SCENE_TIE * top and fits & set(self.catalog.prefabs[i].fits)
                      else (ns, pid, s) for i, (ns, pid, s) in zip(candidates, ranked, strict=True)]
        ranked.sort()
        best = ranked[0][2]
        keep = ranked[:1] if single else [r for r in ranked if r[2] >= VARIETY_RATIO * best]
        keep = keep[:MAX_VARIANTS]
        total = sum(r[2] for r in keep)
        return Match(tuple(r[1] for r in keep), tuple(r[2] / total for r in keep))
