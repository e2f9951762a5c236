"""Rule-based prompt understanding: text -> ``Intent`` (the typed plan in intent.py).

Deliberately simple and total: every token is classified (count, attribute, object kind,
relation, environment, terrain feature, size, or ignored), noun phrases are grouped from runs of
attributes + kind words, then relation words are resolved to the phrases around them. Unknown
words are ignored, never an error. A future LLM planner replaces this module, not the layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import archetypes, cache
from .catalog import Catalog
from .errors import GeneratorError
from .intent import EnvironmentIntent, Intent, KindRequest, Relation, RelationKind, TerrainIntent
from .lexicon import (
    ATTRIBUTES,
    FEATURES,
    GROUP_NOUNS,
    MAX_COUNT,
    NUMBER_WORDS,
    SEASON_WORDS,
    SETTLEMENT_NOUNS,
    SIZE_ADJECTIVES,
    SIZE_WORDS,
    STANDS,
    STOP_WORDS,
    TIME_WORDS,
    VAGUE_COUNTS,
    VAGUE_RANGES,
    WEATHER_WORDS,
    WORLD_KEYWORDS,
    WORLD_TYPES,
    lemma,
    tokenize,
)
from .nouns import RELATION_WORDS, SCENE_NOUNS, is_unknown_noun, looks_plural

COLLECTIVE = frozenset(
    "forest woods grove jungle orchard garden meadow field village town hamlet city settlement "
    "camp colony".split())
ENV_WORDS = frozenset(TIME_WORDS) | frozenset(WEATHER_WORDS) | frozenset(SEASON_WORDS)
NOT_KINDS = frozenset("space world scene land realm kingdom landscape view".split()) | SCENE_NOUNS
AROUND = frozenset("around surrounding encircling circling round".split())
SURROUNDED = frozenset("surrounded ringed encircled flanked".split())
ALONG = frozenset("along alongside lining following".split())
NEAR = frozenset("near beside nearby overlooking close next by behind".split())
SCATTER = frozenset("scattered everywhere dotted strewn scatter sprinkled".split())
CENTER = frozenset("center centre middle".split())
SHAPES = {"circle": "ring", "ring": "ring", "row": "line", "line": "line"}
DIRECTION_WORDS = {"north": "north", "south": "south", "east": "east", "west": "west",
                   "northern": "north", "southern": "south", "eastern": "east", "western": "west"}
PLACE_NOUNS = frozenset("planet world landscape realm scene cavern valley island".split())
SCENE_VOTE = 2.5  # the archetype's world type, against keyword votes (lexicon.WORLD_KEYWORDS)
COUNT_WINDOW = 4  # a count word applies to a phrase starting at most this many tokens later
ARTICLES = frozenset({"a", "an", "the"})
BOUNDARY_WORDS = frozenset("and or with of in on at to for from by into onto near along around "
                           "beside under over behind between among".split())
_TOKEN_OR_BREAK = re.compile(r"[a-z0-9]+|[,;:.!?()]")


@dataclass(frozen=True, slots=True)
class _Count:
    value: int
    exact: bool
    consumed: int
    article: bool = False  # "a", "an", "the", "single": exactly one, if the noun is singular
    range: tuple[int, int] | None = None  # documented range of a vague quantity


@dataclass
class _Phrase:
    start: int
    end: int
    words: list[str]
    attributes: list[str]
    count: int | None = None
    exact: bool = False
    range: tuple[int, int] | None = None
    # a word no prefab names written right before the noun: part of its name in the text
    # ("fishing boats", "ski lift"), never a search term
    lead: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # "lake" of "a lava lake": named, not terrain


@dataclass
class _Parse:
    tokens: list[str]
    breaks: frozenset[int] = frozenset()  # token positions right after punctuation
    phrases: list[_Phrase] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # nouns no prefab serves, as written
    features: dict[int, str] = field(default_factory=dict)  # token position -> feature
    relations: list[tuple[str, int, str | None]] = field(default_factory=list)
    modifiers: set[int] = field(default_factory=set)  # terrain words inside a compound noun


def parse_prompt(prompt: str, catalog: Catalog, world_type: str | None = None) -> Intent:
    """Understand a prompt. Raises GeneratorError only for an empty prompt or bad world_type."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise GeneratorError("prompt must be a non-empty string")
    if world_type is not None and world_type not in WORLD_TYPES:
        raise GeneratorError(f"unknown world_type {world_type!r}; expected one of {WORLD_TYPES}")
    tokens, breaks = _tokens(prompt)
    index = catalog.retrieval
    state = _Parse(tokens, breaks)
    _group_phrases(state, index.is_kind_word, catalog)
    _find_relations(state)
    warnings: list[str] = [f"no prefab for {w!r}; left out"
                           for w in dict.fromkeys(state.unknown)]
    requests = []
    for ph in state.phrases:
        count = ph.count
        if count is not None and count > MAX_COUNT:
            warnings.append(f"count {count} for {' '.join(ph.words)!r} capped at {MAX_COUNT}")
            count = MAX_COUNT
        plural = count != 1 and (count is not None or ph.words[-1] in COLLECTIVE
                                 or lemma(ph.words[-1]) != ph.words[-1]
                                 or bool(ph.tail and ph.tail[-1] in STANDS))
        requests.append(KindRequest(
            phrase=" ".join(ph.attributes + ph.lead + ph.words + ph.tail), terms=tuple(ph.words),
            attributes=tuple(ph.attributes), count=count, exact=ph.exact and count is not None,
            plural=plural, count_range=ph.range if count is not None else None))
    relations = _resolve_relations(state)
    requests, relations = _merge_mentions(requests, relations)
    scene = archetypes.choose([t for k, t in enumerate(tokens) if k not in state.modifiers])
    chosen, explicit = _world_type(tokens, world_type, requests, catalog, scene)
    return Intent(
        prompt=prompt.strip(), world_type=chosen, world_type_explicit=explicit,
        requests=tuple(requests), relations=tuple(relations),
        environment=_environment(tokens, scene), terrain=_terrain(tokens, state, scene),
        size_factor=_size_factor(tokens), warnings=tuple(warnings), scene=scene.name)


def _tokens(prompt: str) -> tuple[list[str], frozenset[int]]:
    """Word tokens (as lexicon.tokenize) and the positions that follow punctuation."""
    tokens: list[str] = []
    breaks: set[int] = set()
    for m in _TOKEN_OR_BREAK.finditer(prompt.lower()):
        if len(tokens) >= 200:  # bound the work on absurdly long prompts
            break
        if m.group()[0].isalnum():
            tokens.append(m.group())
        else:
            breaks.add(len(tokens))
    return tokens, frozenset(breaks)


def _group_at(tokens: list[str], i: int) -> _Count | None:
    """"herd of", "schools of": a vague quantity of the noun after "of"."""
    t = tokens[i]
    if i + 1 < len(tokens) and tokens[i + 1] == "of" and lemma(t) in GROUP_NOUNS:
        value, span = GROUP_NOUNS[lemma(t)]
        if lemma(t) != t:  # "schools of fish": more than one group
            value, span = value * 2, (span[0] * 2, span[1] * 2)
        return _Count(value, False, 2, range=span)
    return None


def _count_at(tokens: list[str], i: int) -> _Count | None:
    """The count starting at position i, if any."""
    t = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if t.isdigit():
        return _Count(min(int(t[:7]), 10**6), True, 1) if int(t[:7]) > 0 else None
    if t in ARTICLES:
        sub = _group_at(tokens, i + 1) if nxt else None
        if sub is None and (nxt in VAGUE_COUNTS or nxt in ("few", "lot", "couple", "dozen",
                                                             "pair", "handful", "single")):
            sub = _count_at(tokens, i + 1)
        if sub is not None:
            return _Count(sub.value, sub.exact, sub.consumed + 1, sub.article, sub.range)
        return _Count(1, True, 1, article=True)
    grouped = _group_at(tokens, i)
    if grouped is not None:
        return grouped
    if t == "handful":
        return _Count(4, False, 1, range=VAGUE_RANGES["handful"])
    if t in NUMBER_WORDS:
        value = NUMBER_WORDS[t]
        if nxt in ("hundred", "dozen") and t != nxt:
            return _Count(value * NUMBER_WORDS[nxt], True, 2)
        return _Count(value, True, 1, article=t == "single")
    if t in VAGUE_COUNTS:
        return _Count(VAGUE_COUNTS[t], False, 1, range=VAGUE_RANGES.get(t))
    return None


def _merge_mentions(requests: list[KindRequest], relations: list[Relation]
                    ) -> tuple[list[KindRequest], list[Relation]]:
    """A second mention of the same thing ("a castle ... near the castle") is the first one,
    not another instance: one request, relations pointing at it."""
    first: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
    alias: list[int] = []
    kept: list[KindRequest] = []
    for req in requests:
        key = (tuple(lemma(t) for t in req.terms), req.attributes)
        k = first.get(key)
        if k is not None and (req.count is None or req.count == 1 == kept[k].count):
            alias.append(k)
            continue
        first.setdefault(key, len(kept))
        alias.append(len(kept))
        kept.append(req)
    if len(kept) == len(requests):
        return requests, relations
    out = []
    for rel in relations:
        anchor = None if rel.anchor is None else alias[rel.anchor]
        if anchor != alias[rel.subject]:
            out.append(Relation(rel.kind, alias[rel.subject], anchor, rel.feature, rel.direction))
    seen: set[int] = set()
    return kept, [r for r in out if not (r.subject in seen or seen.add(r.subject))]  # type: ignore[func-returns-value]


def _group_phrases(state: _Parse, is_kind: object, catalog: Catalog) -> None:
    """Group tokens into noun phrases with their counts and attributes.

    A count belongs to the first noun after it: a kind word (a phrase) or a noun no prefab
    serves (reported in ``state.unknown``); either way it never moves on to a later noun."""
    tokens = state.tokens
    kind = is_kind
    pending: _Count | None = None
    pending_end = -1  # position of the count's last token
    attrs: list[str] = []
    loose: list[str] = []  # unknown words just before, maybe modifiers of an unknown noun
    current: _Phrase | None = None
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if i in state.breaks:  # a comma ends a phrase: nothing carries over it
            current, loose, attrs = None, [], []
        grouped = _group_at(tokens, i)
        if grouped is not None:  # "schools of fish": before "school" can name a prefab
            pending, pending_end = grouped, i + grouped.consumed - 1
            current, attrs = None, []
            i += grouped.consumed
            continue
        # a terrain word right before a noun is part of that noun ("water tower", "sea
        # turtle", "street lamps"): it names the thing, not a lake, sea or road
        compound = bool(nxt) and t in FEATURES and i + 1 not in state.breaks \
            and nxt not in FEATURES and nxt not in STOP_WORDS and nxt not in NOT_KINDS \
            and kind(nxt)  # type: ignore[operator]
        whole = compound and _cooccur(catalog, t, nxt)  # one prefab's name: "water tower"
        if compound:
            state.modifiers.add(i)
            if not whole:
                attrs.append(t)  # "river boat": a boat, described
                current = None
                i += 1
                continue
        elif t in FEATURES and current is not None and current.end == i - 1 \
                and current.words[-1] in MOLTEN and FEATURES[t] == "lake":
            current.tail.append(t)  # "a lava lake": a pool of lava, no water
            state.modifiers.add(i)
            i += 1
            continue
        elif t in FEATURES and not (current and _cooccur(catalog, current.words[-1], t)):
            state.features[i] = FEATURES[t]
            if pending is not None and i - pending_end <= 1 + len(attrs):
                pending = None  # "a lake", "two rivers": the feature took the count
            current, attrs, loose = None, [], []
            i += 1
            continue
        is_kind_word = whole or (kind(t) and t not in NOT_KINDS and t not in STOP_WORDS  # type: ignore[operator]
                                 and t not in ENV_WORDS and t not in SIZE_ADJECTIVES)
        modifies_next = bool(nxt) and i + 1 not in state.breaks and (
            kind(nxt) or looks_plural(nxt))  # type: ignore[operator]
        if not whole and (t in SIZE_ADJECTIVES or (t in ATTRIBUTES and (not is_kind_word
                                                                       or modifies_next))):
            attrs.append(t)
            current = None
            i += 1
            continue
        if is_kind_word and nxt and _setting_noun(nxt) and not kind(nxt):  # type: ignore[operator]
            current, attrs = None, []  # "an alien planet", "a crystal cavern": about the place
            pending = None
            i += 1
            continue
        if is_kind_word and nxt in STANDS and i + 1 not in state.breaks and t not in SHAPES:
            # the kind the stand is made of: the stand's article counts nothing, and the
            # stand is bulk of this kind ("a pine forest": pines, not one pine and oaks)
            current = _Phrase(i, i + 1, [t], attrs, tail=[nxt])
            state.phrases.append(current)
            pending, current, attrs, loose = None, None, [], []
            i += 2
            continue
        counted = pending is not None and i - pending_end <= COUNT_WINDOW
        if is_kind_word and t not in SHAPES:
            if current is not None and _cooccur(catalog, current.words[-1], t):
                current.words.append(t)
                current.end = i
            else:
                current = _Phrase(i, i, [t], attrs)
                if loose and i and loose[-1] == tokens[i - 1] and tokens[i - 1] not in NOT_KINDS \
                        and tokens[i - 1] not in RELATION_WORDS:
                    current.lead = loose[-1:]
                if pending is not None and counted:
                    _apply_count(current, pending, t)
                pending = None
                state.phrases.append(current)
            attrs, loose = [], []
            i += 1
            continue
        current = None
        found = _count_at(tokens, i)
        if found is not None:
            pending, pending_end = found, i + found.consumed - 1
            attrs, loose = [], []
            i += found.consumed
            continue
        prev = tokens[i - 1] if i else ""
        boundary = (i + 1 in state.breaks or not nxt or nxt in BOUNDARY_WORDS
                    or nxt in STOP_WORDS or _count_at(tokens, i + 1) is not None)
        if is_unknown_noun(t, prev, nxt, counted, boundary):
            state.unknown.append(" ".join(loose[-1:] + [t]))
            pending = None  # the number goes with the noun it counted, not the next one
            loose, attrs = [], []
        elif t not in STOP_WORDS and not t.isdigit():
            loose.append(t)
            if t in NOT_KINDS:
                pending = None  # "a farm with hay": the article was the farm's
        else:
            loose = []
        i += 1


MOLTEN = frozenset({"lava", "magma"})  # "a lava lake", "a magma pond": lava, not water


def _setting_noun(word: str) -> bool:
    """A noun naming the place ("planet", "cavern", "downtown"), not a relation or stop word."""
    return word not in STOP_WORDS and word not in RELATION_WORDS and (
        word in archetypes.CUE_WORDS or word in SCENE_NOUNS or word in PLACE_NOUNS)


def _apply_count(ph: _Phrase, count: _Count, head: str) -> None:
    """Give a phrase its count: "a"/"the"/"single" mean exactly one of a singular noun, and
    mean nothing for a plural or a collective ("the trees", "a forest")."""
    if count.article and count.value == 1 and (lemma(head) != head or head in COLLECTIVE):
        return
    ph.count, ph.exact, ph.range = count.value, count.exact, count.range


def _cooccur(catalog: Catalog, a: str, b: str) -> bool:
    """Do two adjacent words name one prefab ("space station", "street lamp")? Either both
    are among its name words and first two tags, or the pair is written in its description
    and both are its words ("a cargo ship": "A long cargo ship loaded with containers")."""
    la, lb = lemma(a), lemma(b)
    memo = cache.table(catalog, "cooccur")
    hit = memo.get((la, lb))
    if hit is None:
        hit = memo[(la, lb)] = any(la in w and lb in w for w in catalog.retrieval.primary) \
            or (la, lb) in _described_pairs(catalog)
    return hit


def _described_pairs(catalog: Catalog) -> frozenset[tuple[str, str]]:
    """Adjacent word pairs (lemmas) of the prefabs' descriptions whose two words are both the
    prefab's own words (name and tags): compound nouns the catalog spells out."""
    memo = cache.table(catalog, "described_pairs")
    pairs = memo.get(None)
    if pairs is None:
        found: set[tuple[str, str]] = set()
        for p in catalog.prefabs:
            own = p.words
            text = [lemma(w) for w in tokenize(p.description)]
            found.update((x, y) for x, y in zip(text, text[1:], strict=False)
                         if x != y and x in own and y in own)
        pairs = memo[None] = frozenset(found)
    return pairs


def _find_relations(state: _Parse) -> None:
    tokens = state.tokens
    for i, t in enumerate(tokens):
        prev = tokens[i - 1] if i > 0 else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in SURROUNDED:
            state.relations.append(("surrounded", i, None))
        elif t in AROUND:
            state.relations.append(("around", i, None))
        elif t in ALONG or (t == "lined" and nxt == "with"):
            state.relations.append(("lined" if t == "lined" else "along", i, None))
        elif t in NEAR and not (t == "by" and prev in SURROUNDED):
            if t == "next" and nxt != "to":
                continue
            state.relations.append(("near", i, None))
        elif t in SCATTER:
            state.relations.append(("scatter", i, None))
        elif t in CENTER:
            state.relations.append(("center", i, None))
        elif t in SHAPES and prev in ("a", "the") and i >= 2:
            state.relations.append((SHAPES[t], i, None))
        elif t in DIRECTION_WORDS:
            state.relations.append(("direction", i, DIRECTION_WORDS[t]))


def _resolve_relations(state: _Parse) -> list[Relation]:
    """Attach each relation word to the phrase before it and the phrase/feature after it."""
    out: list[Relation] = []
    phrases = state.phrases
    for word, pos, direction in state.relations:
        before = [k for k, ph in enumerate(phrases) if ph.end < pos]
        after = [k for k, ph in enumerate(phrases) if ph.start > pos]
        prev_i = before[-1] if before else None
        next_i = after[0] if after else None
        feat_pos = [p for p in state.features if p > pos and p - pos <= 4]
        feature = state.features[feat_pos[0]] if feat_pos else None
        if feature not in ("lake", "river", "road", "coast"):
            feature = None
        if (word in ("around", "along", "near") and next_i is not None and feat_pos
                and phrases[next_i].start > feat_pos[0]):
            next_i = None  # "around the lake ... towers": the anchor is the lake
        rel: Relation | None = None
        kind: RelationKind
        if word == "surrounded" or word == "lined":
            if next_i is not None and (prev_i is not None or feature is None):
                kind = "around" if word == "surrounded" else "along"
                anchor = prev_i
                feat = None
                if anchor is None or (word == "lined"):
                    before_feats = [p for p in state.features if p < pos]
                    if word == "lined" and before_feats:
                        feat = state.features[before_feats[-1]]
                        feat = feat if feat in ("lake", "river", "road", "coast") else None
                        anchor = None if feat else anchor
                rel = Relation(kind, next_i, anchor=anchor, feature=feat)  # type: ignore[arg-type]
        elif word in ("around", "along", "near"):
            subject = prev_i if prev_i is not None else None
            if subject is not None:
                kind = word  # type: ignore[assignment]
                if feature is not None:
                    rel = Relation(kind, subject, feature=feature)  # type: ignore[arg-type]
                elif next_i is not None and next_i != subject:
                    rel = Relation(kind, subject, anchor=next_i)
                elif kind == "around":
                    rel = Relation("ring", subject)
        elif word in ("scatter", "center", "ring", "line"):
            subject = prev_i if prev_i is not None and pos - phrases[prev_i].end <= 5 else next_i
            if subject is not None:
                rel = Relation(word, subject)  # type: ignore[arg-type]
        elif word == "direction" and prev_i is not None:
            anchor = next_i if next_i is not None and phrases[next_i].start - pos <= 4 else None
            rel = Relation("direction", prev_i, anchor=anchor, direction=direction)  # type: ignore[arg-type]
        if rel is not None and rel.subject != rel.anchor:
            out.append(rel)
    # one relation per subject: the first one wins (layout places each object once)
    seen: set[int] = set()
    unique = []
    for rel in out:
        if rel.subject not in seen:
            seen.add(rel.subject)
            unique.append(rel)
    return unique


def _world_type(tokens: list[str], explicit: str | None, requests: list[KindRequest],
                catalog: Catalog, scene: archetypes.Archetype) -> tuple[str, bool]:
    if explicit is not None:
        return explicit, True
    scores = dict.fromkeys(WORLD_TYPES, 0.0)
    if scene.world_type != "nature":  # the scene votes strongly; genre words can outvote it
        scores[scene.world_type] += SCENE_VOTE  # (nature is the default: no vote needed)
    for t in tokens:
        for wt, table in WORLD_KEYWORDS.items():
            scores[wt] += table.get(t, 0.0) or table.get(lemma(t), 0.0)
    # matched prefabs vote weakly, so "knights and a castle" leans fantasy/historical
    for req in requests:
        match = catalog.retrieval.match(req.terms, req.attributes, "", single=True)
        if match is not None:
            for wt in catalog.prefabs[catalog.index[match.prefab_ids[0]]].world_types:
                scores[wt] += 0.3
    best = max(WORLD_TYPES, key=lambda w: (scores[w], -WORLD_TYPES.index(w)))
    return (best if scores[best] > 0 else "nature"), False


def _environment(tokens: list[str], scene: archetypes.Archetype) -> EnvironmentIntent:
    time = next((TIME_WORDS[t] for t in tokens if t in TIME_WORDS), None)
    weather = next((WEATHER_WORDS[t] for t in tokens if t in WEATHER_WORDS), None)
    season = next((SEASON_WORDS[t] for t in tokens if t in SEASON_WORDS), None)
    if weather is None and season == "winter" and "snowy" in tokens:
        weather = "snow"
    if season is None and scene.ground == "snow":
        season = "winter"
    return EnvironmentIntent(time_of_day=time or "noon", weather=weather or "clear",  # type: ignore[arg-type]
                             season=season or ("winter" if weather == "snow" else "summer"))  # type: ignore[arg-type]


def _terrain(tokens: list[str], state: _Parse, scene: archetypes.Archetype) -> TerrainIntent:
    """The prompt's own features, plus the water body and roads its scene needs."""
    feats = set(state.features.values())
    hills = 2.0 if "hills" in feats else (0.3 if "flat" in feats else scene.hills)
    water = scene.water
    return TerrainIntent(lake="lake" in feats or water == "lake",
                         river="river" in feats or water == "river",
                         road="road" in feats or scene.road,
                         coast="coast" in feats or water == "coast", hilliness=min(hills, 5.0))


def _size_factor(tokens: list[str]) -> float:
    for i, t in enumerate(tokens):
        if t in SIZE_WORDS and any(lemma(n) in SETTLEMENT_NOUNS for n in tokens[i + 1:i + 4]):
            return SIZE_WORDS[t]
    return 1.0
