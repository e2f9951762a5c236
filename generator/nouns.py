"""Noun phrases the catalog cannot serve, and number agreement for header text.

The parser (prompt.py) turns known kind words into requests; every other word used to vanish,
and a number in front of an unknown noun moved on to the next known one ("seven camels, palm
trees" -> 7 palm trees). Here an unknown word is recognised as a noun the prompt names when it
heads a counted phrase ("seven camels", "a moat") or is a plural in a list ("cows, pigs and
hens"); the parser then reports it by its own word and drops the number with it
(docs/generator.md, "Count semantics").
"""
from __future__ import annotations

from typing import Final

from .lexicon import (
    ATTRIBUTES,
    FEATURES,
    GROUP_NOUNS,
    IRREGULAR,
    NUMBER_WORDS,
    SEASON_WORDS,
    SETTLEMENT_NOUNS,
    SIZE_WORDS,
    STOP_WORDS,
    TIME_WORDS,
    VAGUE_COUNTS,
    WEATHER_WORDS,
    WORLD_KEYWORDS,
    lemma,
)

# Words that name a setting, a time or a part of the scene, never an object to place.
SETTING_WORDS: Final[frozenset[str]] = frozenset(
    "world scene place area land landscape view setting spot region zone corner side edge "
    "middle center centre top bottom background foreground distance sky ground floor air "
    "afternoon evening morning day night time season weather atmosphere mood style theme "
    "version kind sort type lot bunch variety group full middle nowhere somewhere everywhere "
    "near far away inside outside upside down up left right front back north south east west "
    "northern southern eastern western shore coastline waterfront seaside lakeside riverside "
    "riverbank bank banks island islands hill hills slope slopes valley plain plains planet "
    "downtown uptown suburb suburbs neighborhood neighbourhood quarter district block blocks "
    "square plaza market marketplace bazaar souk cove coves harbor harbour port marina waterfront beach "
    "graveyard cemetery churchyard underwater reef seabed seafloor undersea ocean sea floor "
    "desert oasis dunes dune jungle rainforest forest woods woodland mountain mountains peak "
    "peaks cave cavern caverns grotto underground volcano volcanic crater craters wasteland "
    "resort ski slopes alpine arctic tundra glacier farm farmland ranch countryside pasture "
    "outpost base bunker military army camp campsite campground factory industrial "
    "refinery ruins temple shrine west western frontier fortress castle citadel stronghold "
    "park garden gardens meadow meadows swamp marsh bog wilderness valley canyon gorge "
    "station orbit orbital colony galaxy universe cosmos cyberpunk metropolis city town "
    "village hamlet settlement kingdom realm empire nation country lands wilds row line circle "
    "ring pair couple moat drawbridge".split())
# Setting nouns: they pick the scene (archetypes.py) and are never an object phrase themselves,
# even where a prefab's tags contain them ("on a farm" is not "one barn or one tractor").
SCENE_NOUNS: Final[frozenset[str]] = frozenset(
    "farm farms ranch farmland countryside harbour harbor port marina waterfront seaside beach "
    "park market marketplace bazaar square campsite campground graveyard cemetery "
    "downtown suburb suburbs neighborhood neighbourhood reef outpost resort underwater "
    "wasteland oasis moat".split())
# Plural-looking words that are not nouns
NOT_PLURALS: Final[frozenset[str]] = frozenset(
    "towards always perhaps sometimes its his hers ours yours theirs besides afterwards "
    "upwards downwards outwards this thus yes was has is does goes lots various numerous "
    "famous nervous gorgeous glorious mysterious dangerous luxurious spacious ominous "
    "enormous tremendous marvelous precious curious previous obvious anxious "
    "amongst whilst less unless across".split())
RELATION_WORDS: Final[frozenset[str]] = frozenset(
    "around surrounding encircling circling round surrounded ringed encircled flanked along "
    "alongside lining following lined near beside nearby overlooking close next by behind "
    "scattered everywhere dotted strewn scatter sprinkled guarding facing among amid within "
    "across through beyond atop below beneath inside outside".split())
_DIRECTIONS = frozenset("north south east west northern southern eastern western".split())


def _known(word: str) -> bool:
    return (word in STOP_WORDS or word in SETTING_WORDS or word in ATTRIBUTES
            or word in NUMBER_WORDS or word in VAGUE_COUNTS or word in GROUP_NOUNS
            or word in FEATURES or word in SIZE_WORDS or word in TIME_WORDS
            or word in WEATHER_WORDS or word in SEASON_WORDS or word in RELATION_WORDS
            or word in _DIRECTIONS or word in NOT_PLURALS
            or lemma(word) in SETTLEMENT_NOUNS or lemma(word) in SETTING_WORDS
            or any(word in table for table in WORLD_KEYWORDS.values()))


def looks_plural(word: str) -> bool:
    """A regular or irregular plural noun form ("camels", "geese"), not "glass" or "towards"."""
    if word in NOT_PLURALS or len(word) < 4:
        return False
    if word in IRREGULAR:
        return IRREGULAR[word] != word
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")) \
        and lemma(word) != word


def is_unknown_noun(word: str, prev: str, nxt: str, counted: bool, boundary_after: bool) -> bool:
    """Does ``word`` (not a kind word) name an object the prompt wants?

    ``counted``: a count stands right before it (maybe with attributes between);
    ``boundary_after``: punctuation, a stop/relation/count word or the end follows it."""
    if word.isdigit() or len(word) < 3 or _known(word) or word.endswith(("ing", "ed", "ly")):
        return False
    if not boundary_after and not looks_plural(word):
        return False  # "fishing village", "quiet suburb": a modifier of what follows
    return counted or looks_plural(word)


def pluralize(word: str) -> str:
    """Plural of a singular English noun (rules plus the irregular table, reversed)."""
    for plural, single in IRREGULAR.items():
        if single == word and plural != word:
            return plural
    if word in IRREGULAR and IRREGULAR[word] == word:
        return word  # sheep, deer, fish
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return word + "es"
    return word + "s"


def agree(phrase: str, n: int) -> str:
    """"a palm tree" / "3 palm trees": the phrase's head noun agrees with the number."""
    words = phrase.split()
    if not words:
        return phrase
    head = words[-1]
    single = lemma(head) if looks_plural(head) else head
    words[-1] = single if n == 1 else pluralize(single)
    text = " ".join(words)
    if n == 1:
        return ("an " if text[:1] in "aeiou" else "a ") + text
    return f"{n} {text}"
