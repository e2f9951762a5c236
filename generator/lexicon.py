"""Word tables used by the rule-based prompt parser and by retrieval.

Kept in one place so that tuning vocabulary never touches parsing logic. Every table is a plain
immutable mapping; nothing here depends on the catalog, so the same words work for any catalog.
"""
from __future__ import annotations

import functools
import re
from typing import Final

WORLD_TYPES: Final[tuple[str, ...]] = (
    "fantasy", "sci_fi", "realistic", "surreal", "historical", "urban", "nature", "space",
)

# Words that vote for a world type, with a weight. "futuristic space station with alien
# technology" must come out sci_fi, so sci-fi's markers weigh more than the bare word "space".
WORLD_KEYWORDS: Final[dict[str, dict[str, float]]] = {
    "fantasy": {"fantasy": 4, "magic": 2, "magical": 2, "mystical": 2, "enchanted": 3, "wizard": 2,
                "dragon": 2, "elf": 2, "elven": 2, "fairy": 2, "castle": 1.5, "kingdom": 2,
                "mythical": 2, "sorcerer": 2, "goblin": 2, "unicorn": 2, "spell": 2},
    "sci_fi": {"futuristic": 3, "scifi": 4, "sci": 2, "fi": 2, "cyberpunk": 4, "robot": 2,
               "android": 2, "neon": 1.5, "alien": 1.5, "technology": 2, "tech": 2, "laser": 2,
               "hover": 2, "station": 1.5, "cyber": 3, "mech": 2, "hologram": 2, "reactor": 2},
    "realistic": {"realistic": 4, "farm": 2, "countryside": 2, "rural": 2, "suburb": 2,
                  "suburban": 2, "modern": 1, "ranch": 2, "village": 0.5, "harbor": 1},
    "surreal": {"surreal": 4, "dream": 3, "dreamlike": 3, "dreamy": 3, "bizarre": 3,
                "impossible": 2, "psychedelic": 3, "melting": 2, "whimsical": 2, "upside": 2,
                "strange": 1.5, "weird": 2, "floating": 1.5, "candy": 2, "nightmare": 3},
    "historical": {"historical": 4, "ancient": 1.5, "roman": 3, "egyptian": 3, "greek": 3,
                   "viking": 3, "medieval": 2, "victorian": 3, "colonial": 3, "samurai": 3,
                   "pyramid": 2, "colosseum": 3, "pharaoh": 3, "feudal": 2, "history": 3},
    "urban": {"urban": 4, "city": 3, "street": 2, "downtown": 3, "skyscraper": 2,
              "traffic": 2, "metropolis": 3, "town": 1, "neighborhood": 2, "avenue": 2},
    "nature": {"nature": 4, "forest": 2, "jungle": 2, "meadow": 2, "mountain": 1.5,
               "wilderness": 3, "woods": 2, "valley": 1.5, "tropical": 1.5, "wild": 1.5,
               "grove": 2, "swamp": 2, "desert": 2, "lake": 1, "river": 1, "beach": 1.5, "island": 1},
    "space": {"space": 2, "planet": 3, "moon": 2.5, "lunar": 3, "asteroid": 3, "galaxy": 3,
              "orbit": 3, "mars": 3, "cosmic": 3, "nebula": 3, "astronaut": 2, "starship": 2,
              "crater": 2},
}

# Numbers that make a count *exact* (the evaluator holds the generator to them).
NUMBER_WORDS: Final[dict[str, int]] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12,
    "single": 1, "pair": 2, "couple": 2, "twin": 2,
}
# Vague quantities: the number placed, and the documented range the evaluator holds the whole
# world to (docs/generator.md, "Count semantics"). The number is the whole world's count of
# that kind, as for an exact number; only the check is a range.
VAGUE_COUNTS: Final[dict[str, int]] = {
    "few": 3, "several": 5, "some": 4, "many": 14, "numerous": 16, "lots": 20, "lot": 20,
    "dozens": 30, "hundreds": 120, "countless": 60, "multiple": 4, "various": 5,
}
VAGUE_RANGES: Final[dict[str, tuple[int, int]]] = {
    "few": (2, 4), "several": (3, 7), "some": (3, 6), "many": (10, 20), "numerous": (12, 24),
    "lots": (15, 30), "lot": (15, 30), "dozens": (24, 60), "hundreds": (100, 200),
    "countless": (40, 80), "multiple": (3, 6), "various": (3, 7), "handful": (3, 5),
}
# "a herd of cows", "schools of fish", "a field of sunflowers": the group noun is a vague
# quantity of the noun after "of", never an object itself. (number placed, range)
GROUP_NOUNS: Final[dict[str, tuple[int, tuple[int, int]]]] = {
    "herd": (7, (5, 10)), "flock": (9, (6, 14)), "pack": (5, (4, 8)), "school": (8, (6, 12)),
    "swarm": (14, (10, 20)), "field": (30, (20, 40)), "colony": (10, (6, 16)),
    "pod": (5, (3, 8)), "troop": (7, (5, 10)), "fleet": (6, (4, 10)), "bunch": (5, (3, 7)),
    "cluster": (6, (4, 9)), "patch": (8, (5, 12)), "crowd": (14, (10, 20)),
    "handful": (4, (3, 5)),
}
MAX_COUNT: Final[int] = 200  # a number in a prompt is capped here (noted in header warnings)

ATTRIBUTES: Final[frozenset[str]] = frozenset(
    "sunken glowing ancient ruined snowy wooden stone futuristic alien giant tall small tiny huge "
    "dark abandoned golden crystal neon rusty frozen burning misty old medieval magic "
    "magical mystical enchanted spooky haunted colorful colourful red white pink green blue "
    "black tropical floating broken metal marble glass dead bare twisted overgrown wild "
    "tall short big large little massive towering bright luminous sparkling icy holy "
    "roman egyptian greek viking japanese victorian modern rustic cozy strange weird dream "
    "melting organic steampunk cyberpunk sacred cursed lush".split()
)
# Attribute synonyms: "luminous" prefers prefabs tagged "glowing", etc.
ATTRIBUTE_TAGS: Final[dict[str, str]] = {
    "luminous": "glowing", "bright": "glowing", "sparkling": "glowing", "magical": "magic",
    "enchanted": "magic", "mystical": "magic", "old": "ancient", "broken": "ruined",
    "abandoned": "ruined", "icy": "frozen", "frozen": "snowy", "haunted": "spooky",
    "bare": "dead", "huge": "giant", "massive": "giant", "towering": "giant", "big": "giant",
    "large": "giant", "colourful": "colorful", "holy": "religious",
}
# Attributes that name an era: "a ruined tower" is a castle's or a wizard's, never a lifeguard's
# or an office tower, whatever the world type (retrieval keeps prefabs of these world types
# when any candidate has one).
ERA_ATTRIBUTES: Final[dict[str, frozenset[str]]] = dict.fromkeys(
    "ruined ancient crumbling medieval ruin".split(), frozenset({"historical", "fantasy"}))
# a stand of one kind of plant: "a pine forest", "a bamboo grove", "an apple orchard" is a
# forest of pines (uncounted), not one pine next to a forest of other trees; "a coral reef"
# is corals, not exactly one coral
STANDS: Final[frozenset[str]] = frozenset(
    "forest forests woods grove groves woodland orchard orchards jungle reef reefs".split())
SCALE_UP: Final[frozenset[str]] = frozenset("giant huge massive towering big large tall".split())
SCALE_DOWN: Final[frozenset[str]] = frozenset("small tiny little short".split())

# Size words in front of a settlement/landscape noun scale the whole world.
SIZE_WORDS: Final[dict[str, float]] = {
    "tiny": 0.6, "small": 0.7, "little": 0.7, "compact": 0.75, "cozy": 0.8, "large": 1.4,
    "big": 1.3, "huge": 1.7, "vast": 2.0, "enormous": 2.0, "sprawling": 1.8, "endless": 2.2,
    "expansive": 1.8, "massive": 1.8, "immense": 2.0,
}
# Size/quantity adjectives: hints (world size, scale, settlement size), never object nouns on
# their own, even when a prefab is called "Small Rocks".
SIZE_ADJECTIVES: Final[frozenset[str]] = frozenset(
    "small tiny little large big huge vast giant massive enormous immense compact sprawling "
    "endless expansive".split())
SETTLEMENT_NOUNS: Final[frozenset[str]] = frozenset(
    "village town city world kingdom island valley forest land landscape realm metropolis "
    "settlement colony base camp park desert plain plains wilderness jungle galaxy planet "
    "hamlet outpost region area map".split()
)

# Terrain features: the words switch on a terrain region instead of naming a prefab.
FEATURES: Final[dict[str, str]] = {
    "lake": "lake", "pond": "lake", "lagoon": "lake", "pool": "lake", "water": "lake",
    "river": "river", "stream": "river", "creek": "river", "brook": "river", "canal": "river",
    "road": "road", "street": "road", "highway": "road", "avenue": "road", "path": "road",
    "trail": "road", "lane": "road", "boulevard": "road",
    "sea": "coast", "ocean": "coast", "coast": "coast", "beach": "coast", "shore": "coast",
    "harbor": "coast", "harbour": "coast",
    "mountain": "hills", "mountains": "hills", "hill": "hills", "hills": "hills",
    "hilly": "hills", "cliff": "hills", "flat": "flat", "plain": "flat", "plains": "flat",
    "desert": "flat", "oasis": "lake",
}

TIME_WORDS: Final[dict[str, str]] = {
    "dawn": "dawn", "sunrise": "dawn", "morning": "morning", "noon": "noon", "midday": "noon",
    "day": "noon", "daytime": "noon", "afternoon": "afternoon", "sunset": "sunset",
    "dusk": "sunset", "twilight": "sunset", "evening": "sunset", "night": "night",
    "nighttime": "night", "midnight": "night", "moonlit": "night", "starry": "night",
}
WEATHER_WORDS: Final[dict[str, str]] = {
    "clear": "clear", "sunny": "clear", "cloudy": "cloudy", "overcast": "cloudy",
    "rain": "rain", "rainy": "rain", "raining": "rain", "drizzle": "rain", "storm": "storm",
    "stormy": "storm", "thunderstorm": "storm", "thunder": "storm", "lightning": "storm",
    "snow": "snow", "snowy": "snow", "snowing": "snow", "blizzard": "snow", "fog": "fog",
    "foggy": "fog", "mist": "fog", "misty": "fog", "haze": "fog", "hazy": "fog",
}
SEASON_WORDS: Final[dict[str, str]] = {
    "spring": "spring", "summer": "summer", "autumn": "autumn", "fall": "autumn",
    "autumnal": "autumn", "winter": "winter", "wintry": "winter", "snowy": "winter",
}

# Noun synonyms map onto catalog vocabulary ("turret" ~ "tower").
SYNONYMS: Final[dict[str, str]] = {
    "turret": "tower", "spire": "tower", "keep": "castle", "fort": "castle",
    "fortress": "castle", "citadel": "castle", "palace": "castle", "home": "house",
    "dwelling": "house", "hut": "hut", "shack": "cabin", "woods": "tree", "forest": "tree",
    "grove": "tree", "jungle": "tree", "sapling": "tree", "stone": "rock", "pebble": "rock",
    "toadstool": "mushroom", "fungus": "mushroom", "shroom": "mushroom", "lamppost": "lamp",
    "streetlight": "lamp", "light": "lamp", "automobile": "car", "vehicle": "car",
    "ship": "ship", "spaceship": "spaceship", "starship": "spaceship", "ufo": "ufo",
    "droid": "robot", "bot": "robot", "extraterrestrial": "alien", "person": "villager",
    "people": "pedestrian", "human": "pedestrian", "citizen": "pedestrian",
    "peasant": "villager", "townsfolk": "villager", "soldier": "knight",
    "guard": "knight", "shop": "shop", "store": "shop", "stall": "stall", "sign": "sign",
    "signpost": "signpost", "marker": "marker", "waypoint": "waypoint", "flower": "flower",
    "blossom": "flower", "shrub": "bush", "plant": "plant", "boulder": "boulder",
    "crystal": "crystal", "gem": "crystal", "campfire": "campfire", "bonfire": "campfire",
    "fire": "campfire", "gateway": "portal", "wormhole": "portal", "dock": "pier",
    "jetty": "pier", "wharf": "pier", "sailboat": "boat", "canoe": "kayak",
    "skyscraper": "skyscraper", "tower": "tower", "stag": "deer", "doe": "deer",
    "critter": "animal", "cattle": "cow", "lantern": "lantern", "torch": "torch",
    "glowworm": "firefly", "mage": "wizard", "sorcerer": "wizard", "warrior": "knight",
    "monument": "statue", "sculpture": "statue", "obelisk": "obelisk", "ruin": "ruin",
    "technology": "technology", "machine": "robot", "colony": "habitat", "module": "habitat",
    "village": "cottage", "hamlet": "cottage", "mill": "windmill", "church": "chapel",
    "temple": "temple", "inn": "tavern",
}

# Irregular plurals; the regular ones are handled by rules in ``lemma``.
IRREGULAR: Final[dict[str, str]] = {
    "people": "people", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "feet": "foot", "teeth": "tooth", "leaves": "leaf", "wolves": "wolf",
    "elves": "elf", "dwarves": "dwarf", "dwarfs": "dwarf", "shelves": "shelf",
    "cacti": "cactus", "taxis": "taxi", "axes": "axe", "fungi": "fungus", "buses": "bus", "gases": "gas",
    "octopi": "octopus",
    "knives": "knife", "lives": "life", "thieves": "thief", "halves": "half", "fish": "fish",
    "sheep": "sheep", "deer": "deer", "series": "series", "species": "species",
    "bonuses": "bonus", "lenses": "lens", "oases": "oasis", "canvases": "canvas",
    "glass": "glass", "grass": "grass", "moss": "moss", "class": "class", "lotus": "lotus",
    "cactus": "cactus", "bus": "bus", "octopus": "octopus", "hippos": "hippo",
    "statues": "statue", "houses": "house", "horses": "horse", "roses": "rose",
    "vases": "vase", "lighthouses": "lighthouse", "treehouses": "treehouse",
    "bases": "base", "crevasses": "crevasse", "stairs": "staircase", "ruins": "ruin",
}

STOP_WORDS: Final[frozenset[str]] = frozenset(
    "a an the of and or with in on at to for from by into onto over under is are be was "
    "that this these those it its their there here full filled having has have some any "
    "all each every very really quite lots plenty bunch group set variety kind kinds type "
    "types sort also plus then as like made built covered world scene place area level "
    "featuring including containing where which who while under above below between".split()
)

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens; hyphens and punctuation split words ("sci-fi" -> sci, fi)."""
    return _TOKEN.findall(text.lower())


@functools.lru_cache(maxsize=1 << 16)
def lemma(word: str) -> str:
    """Singularise an English noun with a few rules; unknown shapes pass through unchanged.

    Applied to both catalog text and prompts, so a rule that mangles a word mangles it the same
    way on both sides and retrieval still matches.
    """
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("sses", "shes", "ches", "xes", "zes"):
        if word.endswith(suffix):
            return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def canonical(word: str) -> str:
    """Lemma then synonym: the term retrieval searches for."""
    base = lemma(word)
    return SYNONYMS.get(base, base)
