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

from .lexicon import (
    FEATURES,
    NUMBER_WORDS,
    SIZE_ADJECTIVES,
    STOP_WORDS,
    TIME_WORDS,
    VAGUE_COUNTS,
    WEATHER_WORDS,
    tokenize,
)
from .nouns import agree, looks_plural

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
    if k is None:
        return _title_case(scene.split()) if scene else _truncated(intent.prompt)
    words = _phrase_words(tokens, intent.requests[k].terms, 2)
    main = requests[k]
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
    size_word = next((t for t in tokenize(intent.prompt) if t in SIZE_ADJECTIVES), "")
    if not (requests and any(requests)):
        title = "world"
    else:  # the caller may pass the title it already made
        title = (title if title is not None else make_title(intent, requests)).lower()
    genre = intent.world_type.replace("_", "-")
    if scene:  # the scene archetype names the place; the title already names the subject
        title = scene
    if genre.replace("-", " ") in title or intent.world_type in title.split():
        genre = ""  # "a space station", not "a space space station"
    head = " ".join(w for w in (size_word, genre, title) if w)
    when = " ".join(w for w in (TIME_PHRASE[env.time_of_day], WEATHER_PHRASE[env.weather]) if w)
    parts = []
    for i, t in enumerate(trace):
        n = t["placed"]
        if n <= 0:
            continue
        town = requests[i] is not None and requests[i].settlement is not None
        phrase = f"{requests[i].settlement.kind} building" if town else t["phrase"]
        parts.append(agree(phrase, n))
    things = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + (parts[-1] if parts
                                                                            else "")
    article = "An" if head[:1].lower() in "aeiou" else "A"
    text = f"{article} {head}{' ' + when if when else ''}, {int(size_m)} m across"
    if things:
        text += f", with {things}"
    return _undouble(text + f" ({env.season}).")[:500]


def _undouble(text: str) -> str:
    """Drop a word repeated right after itself ("space space station")."""
    words = text.split(" ")
    return " ".join(w for k, w in enumerate(words) if k == 0 or w.lower() != words[k - 1].lower())
