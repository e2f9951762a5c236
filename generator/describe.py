"""Header text: a clean title and a descriptive description for a generated world.

The title names the main subject (a settlement, else a landmark, else the first thing asked for)
with its modifiers from the prompt ("fishing village"), plus its relation to a terrain feature
or anchor ("by the Lake", "near the Castle") or the next requested thing ("with Ancient
Trees"). Size/count words and articles are dropped. With nothing recognised the prompt is cut at
a word boundary and never ends on a dangling preposition, article or conjunction.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .archetypes import BY_NAME, CUE_WORDS, Archetype
from .lexicon import (
    FEATURES,
    NUMBER_WORDS,
    SIZE_ADJECTIVES,
    STANDS,
    STOP_WORDS,
    TIME_WORDS,
    VAGUE_COUNTS,
    WEATHER_WORDS,
    lemma,
    tokenize,
)
from .nouns import SETTING_WORDS, agree, looks_plural

if TYPE_CHECKING:
    from .intent import Intent

SMALL = frozenset("a an the of by with and or in on at to for from near along around".split())
DANGLING = SMALL | frozenset("beside under over into onto across through among".split())
REL_WORDS = {"near": "by the", "around": "around the", "along": "along the", "ring": "around the",
             "center": "at the Heart of the", "direction": "near the"}
TIME_PHRASE = {"dawn": "at dawn", "morning": "in the morning", "noon": "", "afternoon":
               "in the afternoon", "sunset": "at dusk", "night": "at night"}
WEATHER_PHRASE = {"clear": "", "cloudy": "under clouds", "rain": "in the rain",
                  "storm": "in a storm", "snow": "in the snow", "fog": "in fog"}
MAX_TITLE_WORDS = 7
LANDSCAPES = frozenset("forest woods grove jungle orchard garden meadow field camp".split())
# nouns that close the name of a place after its cue words ("wild west town", "lunar base")
PLACE_TAILS = frozenset("town city village base station square resort peak valley planet "
                        "cavern world outpost estate ruins shore field fields".split())
# the genre as the description's adjective; the rest (nature, realistic, urban, space) go
# without saying ("a dark forest", not "a nature forest")
GENRE_WORDS = {"fantasy": "fantasy", "sci_fi": "sci-fi", "historical": "historical",
               "surreal": "surreal"}
# words of a place's name that already say its genre ("a medieval village")
GENRE_IMPLIED = frozenset("medieval ancient old western west cyberpunk neon futuristic alien "
                          "space lunar moon fantasy magical enchanted haunted spooky".split())


def _title_case(words: Sequence[str]) -> str:
    return " ".join(w if (k and w in SMALL) else w[:1].upper() + w[1:]
                    for k, w in enumerate(words))


def _skip(t: str) -> bool:
    return (t in STOP_WORDS or t in SIZE_ADJECTIVES or t in NUMBER_WORDS or t in VAGUE_COUNTS
            or t.isdigit() or t in TIME_WORDS or t in WEATHER_WORDS or t in FEATURES)


def _phrase_words(tokens: list[str], terms: tuple[str, ...], limit: int = 0) -> list[str]:
    """The request's words as written, with up to ``limit`` modifiers in front."""
    head = terms[-1]
    if head not in tokens:
        return list(terms)
    end = tokens.index(head)
    start = max(0, end - len(terms) + 1)
    while start > 0 and end - start < limit + len(terms) - 1 and not _skip(tokens[start - 1]) \
            and not looks_plural(tokens[start - 1]):
        start -= 1
    return tokens[start:end + 1]


def scene_phrase(tokens: list[str], arch: Archetype) -> list[str]:
    """The prompt's own name for its scene: the first cue of the chosen archetype with the
    cue words and place noun after it and up to two modifiers before it ("dark forest",
    "neon cyberpunk city", "wild west town", "crystal cavern"); [] when no cue is written."""
    n, pos = len(tokens), None
    for k, t in enumerate(tokens):
        if k + 1 < n and f"{t} {tokens[k + 1]}" in arch.cues:
            pos = (k, k + 1)
            break
        if " " not in t and (t in arch.cues or lemma(t) in arch.cues):
            pos = (k, k)
            break
    if pos is None:
        return []
    start, end = pos
    while end + 1 < n and end - start < 3 and tokens[end + 1] not in STOP_WORDS and (
            tokens[end + 1] in CUE_WORDS or tokens[end + 1] in PLACE_TAILS):
        end += 1
    while start > 0 and end - start < 3 and not _skip(tokens[start - 1]) \
            and not looks_plural(tokens[start - 1]):
        start -= 1
    words = tokens[start:end + 1]
    if lemma(words[-1]) not in SETTING_WORDS and words[-1] not in SETTING_WORDS:
        return arch.label.split()  # "a campfire with tents": the place is a campsite
    return words


def _setting(request: Any, place: Sequence[str]) -> bool:
    """Is a request the place itself ("forest" of "a dark forest", "a lunar base", the pines
    of "a pine forest")? Then the head of the description says it, and it is not listed as a
    kind."""
    terms, last = request.terms, request.phrase.split()[-1]
    return _within(terms, place) and any(lemma(w) in SETTING_WORDS or w in SETTING_WORDS
                                         for w in (terms[-1], last))


def _within(terms: Sequence[str], place: Sequence[str]) -> bool:
    """Are all of a request's words part of the scene's name ("forest" of "dark forest")?"""
    inside = {lemma(w) for w in place}
    return bool(place) and all(lemma(t) in inside for t in terms)


def _main(intent: Intent, requests: Sequence[Any]) -> int | None:
    """Settlement, else a single landmark, else any landmark, else a landscape noun, else first."""
    live = [k for k, r in enumerate(requests) if r is not None]
    preds: tuple[Callable[[int], object], ...] = (
        lambda k: requests[k].settlement is not None,
        lambda k: requests[k].landmark and not intent.requests[k].plural,
        lambda k: requests[k].landmark,
        lambda k: intent.requests[k].terms[-1] in LANDSCAPES)
    for pred in preds:
        for k in live:
            if pred(k):
                return k
    return live[0] if live else None


def make_title(intent: Intent, requests: Sequence[Any], scene: str = "") -> str:
    """``scene``: the archetype's label, used when no settlement or landmark is the subject
    ("Harbour with Fishing Boats", not "Fishing Boats")."""
    tokens = tokenize(intent.prompt)
    k = _main(intent, requests)
    place = scene_phrase(tokens, BY_NAME[intent.scene]) if scene else []
    if k is None:
        name = place or scene.split()
        return _title_case(name) if name else _truncated(intent.prompt)
    main = requests[k]
    if place and main.settlement is None:
        # the scene by its own name, with its main subject ("Harbour with Lighthouse", not
        # "Lighthouse with Taxis"); a request the name already says is not the subject
        order = [k] + [j for j, r in enumerate(requests) if r is not None and j != k]
        if not main.landmark:  # a number says what the prompt is about ("2 statues")
            order.sort(key=lambda j: intent.requests[j].count is None
                       or intent.requests[j].count_range is not None)
        subject = next((j for j in order if not _setting(intent.requests[j], place)),
                       None)
        words = list(place)
        if subject is not None:
            terms = intent.requests[subject].terms
            last = intent.requests[subject].phrase.split()[-1]
            if last in STANDS and terms and last != terms[-1]:
                terms = (*terms, last)  # "Beach with Palm Grove", not "with Palm"
            what = _phrase_words(tokens, terms, 1)
            while what and _skip(what[0]):
                what.pop(0)
            if len(words) + len(what) < MAX_TITLE_WORDS:
                words += ["with", *what]
        return _undouble(_title_case(words))[:120]
    words = _phrase_words(tokens, intent.requests[k].terms, 2)
    if scene and main.settlement is None and not main.landmark \
            and not set(scene.split()) & set(words):
        return _undouble(_title_case([*scene.split(), "with", *words]))[:120]
    rel = next((r for r in intent.relations if r.subject == k), None)
    tail: list[str] = []
    if rel is not None and rel.feature is not None and rel.kind in REL_WORDS:
        word = next((t for t in tokens if FEATURES.get(t) == rel.feature), rel.feature)
        tail = REL_WORDS[rel.kind].split() + [word]
    elif rel is not None and rel.anchor is not None and requests[rel.anchor] is not None \
            and rel.kind in REL_WORDS:
        tail = REL_WORDS[rel.kind].split() + _phrase_words(tokens,
                                                           intent.requests[rel.anchor].terms)
    else:
        other = next((j for j, r in enumerate(requests) if r is not None and j != k), None)
        if other is not None:
            kr = intent.requests[other]
            mods = [a for a in kr.attributes if a not in SIZE_ADJECTIVES][-1:]
            tail = ["with"] + mods + _phrase_words(tokens, kr.terms)
    if len(words) + len(tail) > MAX_TITLE_WORDS:
        tail = []
    return _undouble(_title_case(words + tail))[:120] or "Untitled World"


def _truncated(prompt: str, limit: int = 6) -> str:
    words = [w for w in (tok.strip(".,;:!?\"'()") for tok in prompt.split()) if w]
    words = words[:limit]
    while words and words[-1].lower() in DANGLING:
        words.pop()
    while words and words[0].lower() in ("a", "an", "the"):
        words.pop(0)
    words = [w for w in words if any(c.isalnum() for c in w)]
    return _title_case([w.lower() for w in words])[:120] or "Untitled World"


def make_description(intent: Intent, requests: Sequence[Any], trace: Sequence[dict[str, Any]],
                     size_m: float, title: str | None = None, scene: str = "") -> str:
    """"A small realistic fishing village by the lake at dusk, 112 m across: 12 buildings ..."""
    env = intent.environment
    tokens = tokenize(intent.prompt)
    arch = BY_NAME[intent.scene]
    size_word = next((t for t in tokens if t in SIZE_ADJECTIVES), "")
    k = _main(intent, requests)
    place = [w for w in scene_phrase(tokens, arch) if w != size_word] \
        if arch.cues and k is not None and requests[k].settlement is None else []
    if not (requests and any(requests)):
        title = "world"
    else:  # the caller may pass the title it already made
        title = (title if title is not None else make_title(intent, requests)).lower()
    if place:  # the prompt's name for the place: "a dark forest", "a medieval village"
        title = " ".join(place)
    elif k is not None and requests[k].settlement is not None:
        title = title.split(" with ")[0]  # what it is "with" is the list that follows
    elif scene:  # the scene archetype names the place; the title already names the subject
        title = scene
    genre = GENRE_WORDS.get(intent.world_type, "")
    if genre.replace("-", " ") in title or set(title.split()) & GENRE_IMPLIED:
        genre = ""  # "a space station", not "a space space station"
    head = " ".join(w for w in (size_word, genre, title) if w)
    when = " ".join(w for w in (TIME_PHRASE[env.time_of_day], WEATHER_PHRASE[env.weather]) if w)
    parts = []
    for i, t in enumerate(trace):
        n = t["placed"]
        if n <= 0:
            continue
        kr = intent.requests[i]
        town = requests[i] is not None and requests[i].settlement is not None
        if place and not town and _setting(kr, place):
            continue  # the setting itself ("a dark forest"), said by the head, not a kind
        if town and n == 1:  # a settlement of one civic building: name it ("a well")
            phrase = _civic_name(requests[i])
        elif town:
            phrase = f"{requests[i].settlement.kind} building"
        else:
            phrase = t["phrase"]
            words = phrase.split()
            if n > 1 and len(words) > 1 and words[-1] in STANDS and kr.terms \
                    and words[-1] != kr.terms[-1]:
                phrase = " ".join(words[:-1])  # "a palm grove": so many palms, not groves
        if kr.count is None and not kr.plural and not town:
            parts.append(phrase)  # "smoke", "fog": as the prompt says it, no number
        else:
            parts.append(agree(phrase, n))
    things = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + (parts[-1] if parts
                                                                            else "")
    if looks_plural(head.split()[-1]):  # "Ancient ruins, 300 m across"
        text = head[:1].upper() + head[1:]
    else:
        text = ("An " if head[:1].lower() in "aeiou" else "A ") + head
    text += f"{' ' + when if when else ''}, {int(size_m)} m across"
    if things:
        text += f", with {things}"
    season = f" ({env.season})" if arch.seasons else ""  # no summer on the moon
    return _undouble(text + f"{season}.")[:500]


def _civic_name(req: Any) -> str:
    """What a settlement's single building is: its match's first prefab ("well")."""
    ids = req.match.prefab_ids
    return ids[0].split("_")[-1] if ids else "building"


def _undouble(text: str) -> str:
    """Drop a word repeated right after itself ("space space station")."""
    words = text.split(" ")
    return " ".join(w for k, w in enumerate(words) if k == 0 or w.lower() != words[k - 1].lower())
