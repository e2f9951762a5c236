"""Scene archetypes: the table that decides what kind of place a prompt describes.

One row per archetype (docs/generator.md, "Scene archetypes"): the words that call for it, its
world type (a strong vote, the prompt's own genre words can still win), the ground it stands on
(grass, dirt, sand, snow, rock, lava, regolith, seabed, paved, metal), the water body it needs
(lake, coast, river or none: the moon has no sea), its roads, its structure (structure.py lays
it out), the filler palette (category weights, tags to favour, density) and the kinds that
must never appear there unless the prompt asks for them. Data only: adding a scene is adding a
row, never an ``if``. Selection is a pure, deterministic vote over the prompt's words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .lexicon import lemma

# tag groups used by the exclusion column (a prefab is excluded if any of its tags is listed)
FARM_ANIMALS = frozenset("cow cattle sheep pig goat chicken hen horse farm hay livestock "
                         "tractor".split())
WILDLIFE = frozenset("wolf bear deer predator wildlife rabbit".split())
ROBOTS = frozenset("robot android droid mech".split())
LAVA = frozenset("lava magma volcanic".split())
SNOW = frozenset("snow snowy winter frozen".split())
DESERT = frozenset("cactus desert".split())
TROPICAL = frozenset("palm tropical".split())
SCIFI = frozenset("futuristic alien hologram holographic neon cyberpunk spaceship warp "
                  "starfighter ufo".split())
FANTASY = frozenset("magic fairy dragon unicorn goblin sparkles wizard".split())
SURREAL = frozenset("dream whimsical teacup melting".split())
MODERN = frozenset("sedan taxi bus truck tram traffic modern pickup bicycle "
                   "hydrant mailbox billboard vending".split())
SPOOKY = frozenset("gravestone spooky tomb cemetery".split())
VEGETATION = frozenset("tree plant flower bush grass fern flora meadow".split())
LIVING = FARM_ANIMALS | WILDLIFE

Palette = dict[str, float]
P_WILD: Final[Palette] = {"tree": 10, "plant": 8, "rock": 4, "animal": 1.2, "terrain": 0.8,
                          "effect": 0.4}
P_STREET: Final[Palette] = {"tree": 1.2, "plant": 1.2, "person": 3, "prop": 3, "lighting": 2,
                            "ui": 0.5, "effect": 0.3}
P_RURAL: Final[Palette] = {"tree": 5, "plant": 6, "rock": 2, "animal": 1.5, "prop": 1,
                           "person": 0.6, "lighting": 0.2}
P_SPACE: Final[Palette] = {"rock": 5, "terrain": 4, "prop": 2, "lighting": 1, "person": 1,
                           "vehicle": 0.6, "effect": 0.8}


@dataclass(frozen=True, slots=True)
class Archetype:
    name: str
    label: str  # what the description calls the place ("harbour", "city street")
    cues: dict[str, float]  # prompt word (or "two words") -> vote
    world_type: str
    ground: str
    water: str | None = None  # "lake" | "coast" | "river" | None
    road: bool = False
    hills: float = 1.0
    structure: str | None = None  # structure.py: grid, main_road, quay, walls, plaza, fields, ...
    palette: Palette = field(default_factory=lambda: dict(P_WILD))
    boost: frozenset[str] = frozenset()  # filler tags favoured here
    exclude: frozenset[str] = frozenset()  # tags never placed unless asked for
    density: float = 1.0  # share of the remaining budget the filler may use
    # scene tags (placement.fits): a filler prefab must carry one; empty = WORLD_FITS[world type]
    fits: frozenset[str] = frozenset()
    centerpiece: tuple[str, ...] = ()  # tags of the object the structure is built round
    dry: bool = False  # no lake, river or coast unless the prompt names one
    traffic: bool = True  # a street scene's filler vehicles drive on its roads
    seasons: bool = True  # the description names the season (not in a cave or in space)
    own_water: frozenset[str] = frozenset()  # water prefabs its structure holds (no lake)
    # where the filler goes (docs/generator.md, "Filler: where it goes"): the share of its
    # palette count a category keeps (the rest stays open ground; the budget is a maximum) ...
    keep: dict[str, float] = field(default_factory=dict)
    # ... and where it gathers: "buildings" (round buildings, the structure's pieces and the
    # landmarks), "shore" (along the water's edge, both sides of it), "centre" (round the
    # scene's centre piece), "clusters" (groups round random points); a category not named
    # is spread evenly
    anchor: dict[str, str] = field(default_factory=dict)


def _f(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _c(text: str, weight: float = 3.0) -> dict[str, float]:
    return dict.fromkeys(text.split(","), weight)


def _k(text: str) -> dict[str, float]:
    """"prop .3 person .5" -> {"prop": 0.3, "person": 0.5} (the keep column)."""
    w = text.split()
    return {c: float(v) for c, v in zip(w[::2], w[1::2], strict=True)}


def _a(text: str) -> dict[str, str]:
    """"prop:shore tree:clusters" -> {"prop": "shore", "tree": "clusters"} (the anchor column)."""
    out: dict[str, str] = {}
    for item in text.split():
        cat, mode = item.split(":")
        out[cat] = mode
    return out


FILL_MODES: Final = ("", "clusters", "buildings", "shore", "centre")


ARCHETYPES: Final[tuple[Archetype, ...]] = (
    Archetype("city_street", "city street", {**_c("downtown,city,street,streets,avenue,urban,"
              "metropolis,traffic,skyscraper,skyscrapers,boulevard,intersection"),
              **_c("city block,busy street,main street", 5)}, "urban", "paved", road=True,
              hills=0.2, structure="grid", palette=dict(P_STREET),
              fits=_f("street"), boost=frozenset("street city urban park".split()),
              exclude=FARM_ANIMALS | WILDLIFE | ROBOTS | LAVA | FANTASY | SURREAL | SNOW | SPOOKY,
              density=0.6,
              keep=_k("prop .5 person .6 lighting .7 plant .6 tree .6"),
              # billboards and effects (steam, fountains' spray) by the frontage, not mid-block
              anchor=_a("prop:buildings person:buildings plant:clusters effect:buildings ui:buildings")),
    Archetype("cyberpunk_city", "neon city", {**_c("cyberpunk,neon,dystopian", 4),
              **_c("futuristic city,sci fi city,future city", 6)}, "sci_fi", "paved", road=True,
              hills=0.2, structure="grid", palette=dict(P_STREET),
              fits=_f("cyberpunk"), boost=frozenset("neon futuristic hologram".split()),
              exclude=FARM_ANIMALS | WILDLIFE | LAVA | FANTASY | SNOW | SPOOKY, density=0.6,
              keep=_k("prop .5 person .6 plant .5"),
              anchor=_a("prop:buildings person:buildings effect:buildings ui:buildings")),
    Archetype("suburb", "suburb", {**_c("suburb,suburban,suburbs,neighborhood,neighbourhood,"
              "residential,cul,driveway"), **_c("residential street,picket fences", 6)},
              "realistic", "grass", road=True, hills=0.4,
              structure="main_road", palette={"tree": 1.2, "plant": 4, "prop": 2.5, "person": 1.2,
                                              "lighting": 0.8, "rock": 0.2},
              fits=_f("suburban garden"), boost=frozenset("garden park suburban residential".split()),
              exclude=FARM_ANIMALS | WILDLIFE | ROBOTS | LAVA | FANTASY | SURREAL | SCIFI
              | SPOOKY, density=0.45,
              keep=_k("prop .5 plant .6 person .6"),
              anchor=_a("prop:buildings person:buildings plant:buildings tree:clusters")),
    Archetype("village", "village", _c("village,hamlet,cottages,villagers", 3), "historical",
              "grass", road=True, hills=0.8, palette={**P_RURAL, "tree": 2, "plant": 5},
              fits=_f("medieval rural temperate"), boost=frozenset("village rural wooden farm".split()),
              exclude=ROBOTS | LAVA | SCIFI | MODERN | SURREAL | SPOOKY, density=0.5,
              keep=_k("prop .5 person .6 lighting .6 tree .7"),
              anchor=_a("prop:buildings person:buildings lighting:buildings "
                         "tree:clusters animal:clusters rock:clusters")),
    Archetype("farm", "farm", {**_c("farm,farmland,ranch,barn,pasture,crops,crop,fields,tractor,"
              "countryside,farmyard,orchard"), **_c("sunflower,sunflowers,wheat,cornfield,maize", 2.5)},
              "realistic", "grass", hills=0.5,
              structure="fields", palette={**P_RURAL, "tree": 1.2, "animal": 3, "prop": 2},
              centerpiece=("barn", "farmhouse"),
              fits=_f("rural temperate"), boost=frozenset("farm rural hay animal".split()),
              exclude=WILDLIFE | ROBOTS | LAVA | SCIFI | FANTASY | SURREAL | SPOOKY,
              density=0.5,
              keep=_k("prop .5 tree .6 animal .7"),
              # the farm's life keeps to the farmyard and the paddock fence, not the far fields
              anchor=_a("prop:buildings person:buildings animal:buildings tree:clusters rock:clusters")),
    Archetype("harbour", "harbour", {**_c("harbour,harbor,port,dock,docks,marina,wharf,quay,"
              "bay,seaport,fishing boats", 4), **_c("pier,piers", 2),
              # a ship that only a harbour's sea can float (a 120 m freighter in a meadow's pond)
              **_c("cargo ship,cargo ships,container ship,container ships,freighter,freighters,"
                   "ferry,ferries", 4)}, "realistic", "paved", water="coast",
              structure="quay", palette={"vehicle": 1.0, "prop": 3, "person": 0.6, "lighting": 0.5,
                                         "plant": 0.4, "tree": 0.1, "rock": 0.3},
              fits=_f("harbour coast"),
              boost=frozenset("boat water dock pier cargo crate barrel".split()),
              exclude=LIVING | ROBOTS | LAVA | FANTASY | SURREAL | SNOW | SPOOKY | MODERN
              | frozenset("camping tent well fence lily reeds farmer train railway".split())
              | frozenset("marine scuba diver".split()),  # open water: boats, not reef life
              density=0.5,
              keep=_k("prop .25 person .5 lighting .5 vehicle .5 rock .4 plant .5"),
              anchor=_a("prop:shore person:shore lighting:shore vehicle:buildings rock:clusters plant:clusters")),
    Archetype("beach", "beach", {**_c("beach,seaside,sand,sandy,surf,tropical,lifeguard,sunbathers,"
              "shore,island"), **_c("cove,coves", 6), **_c("pirate cove", 8),
              # "a palm grove by the sea" is a coast with palms, not a forest; a forest by
              # the sea stays a forest (2 < 2.5)
              **_c("sea,ocean,seashore,coastline,coastal", 2), **_c("palm,palms", 1.5),
              **_c("palm grove,palm groves", 6),
              **_c("floating island,floating islands", -3)}, "nature", "sand", water="coast", hills=0.3,
              palette={"tree": 0.15, "plant": 1.5, "rock": 0.6, "person": 0.6, "prop": 2.5},
              fits=_f("beach coast"), boost=frozenset("palm tropical beach umbrella".split()),
              exclude=LIVING | ROBOTS | LAVA | SNOW | SPOOKY | SURREAL | FANTASY
              | frozenset("marine scuba diver lily jungle".split()),  # a clear sea, no reef
              density=0.3,
              keep=_k("prop .4 plant .5 rock .5 person .6"),
              anchor=_a("prop:shore person:shore plant:clusters tree:clusters rock:clusters")),
    Archetype("lake_shore", "lake shore", {**_c("lake,pond,lagoon", 2.5),
              **_c("lakeside,lakeshore,lake shore,pond shore", 6)},
              "nature", "grass", water="lake", palette=dict(P_WILD),
              fits=_f("temperate woodland wild freshwater"), boost=frozenset("lake shore water reeds boat".split()),
              exclude=ROBOTS | LAVA | SCIFI | SPOOKY | SURREAL, density=0.8,
              keep=_k("tree .35 plant .6 rock .6"),
              anchor=_a("plant:shore tree:clusters rock:clusters animal:shore")),
    Archetype("river_valley", "river valley", {**_c("river,stream,creek,brook,riverbank", 2.5),
              **_c("valley", 3)}, "nature", "grass", water="river", hills=1.6,
              fits=_f("temperate woodland wild freshwater"), boost=frozenset("river shore water reeds".split()),
              exclude=ROBOTS | LAVA | SCIFI | SPOOKY | SURREAL, density=0.9,
              keep=_k("tree .45 plant .7 rock .6"),
              anchor=_a("plant:shore tree:clusters rock:clusters")),
    Archetype("forest", "forest", {**_c("forest,woods,woodland,grove,trees,wood", 2.5),
              **_c("pine forest,misty forest,deep forest", 5)}, "nature",
              "grass", hills=1.2, palette={"tree": 14, "plant": 8, "rock": 3, "animal": 1,
                                           "effect": 0.4, "terrain": 0.5},
              fits=_f("temperate woodland wild"), boost=frozenset("forest tree undergrowth".split()),
              exclude=ROBOTS | LAVA | SCIFI | MODERN | FARM_ANIMALS, density=1.0,
              anchor=_a("plant:clusters rock:clusters")),
    Archetype("jungle", "jungle", _c("jungle,rainforest,tropical forest,vines,amazon", 4),
              "nature", "grass", hills=1.2, palette={"tree": 14, "plant": 12, "rock": 2,
                                                    "animal": 1},
              fits=_f("tropical"), boost=frozenset("tropical palm jungle fern".split()),
              exclude=ROBOTS | LAVA | SNOW | DESERT | FARM_ANIMALS | MODERN, density=1.0,
              anchor=_a("plant:clusters")),
    Archetype("desert", "desert", _c("desert,oasis,dune,dunes,arid,sahara,cactus,cacti,camel,"
              "camels", 4), "nature", "sand", hills=0.7,
              palette={"rock": 4, "plant": 2, "tree": 1, "terrain": 1},
              fits=_f("desert"), boost=frozenset("cactus desert palm".split()),
              exclude=SNOW | FARM_ANIMALS | WILDLIFE | ROBOTS | LAVA | SPOOKY, density=0.3,
              keep=_k("rock .3 plant .3 tree .6 terrain .5"),
              anchor=_a("tree:shore plant:clusters rock:clusters terrain:clusters animal:shore")),
    Archetype("snow", "snowfield", {**_c("snow,snowy,winter,arctic,alpine,"
              "igloo,tundra,frozen,glacier", 3)},
              "nature", "snow", hills=2.0, palette={"tree": 8, "rock": 3, "terrain": 2,
                                                   "plant": 0.5, "person": 0.5},
              fits=_f("snow alpine ski"), boost=frozenset("snow snowy winter pine".split()),
              exclude=TROPICAL | DESERT | LAVA | FARM_ANIMALS | ROBOTS, density=0.6,
              keep=_k("tree .45 rock .6 terrain .5"),
              anchor=_a("tree:clusters rock:clusters terrain:clusters person:buildings")),
    # a ski resort is open slopes: a lodge, a lift line up the hill, a piste kept clear beside
    # it, skiers round the lodge and the lift; trees in a few stands, not a forest
    Archetype("ski_resort", "ski resort", {**_c("ski,skiers,skiing,slopes,slope,piste,lodge,chalet,"
              "snowboarders,snowboarding", 3), **_c("ski resort,ski lift,ski slope,ski slopes", 6)},
              "nature", "snow", hills=2.0, structure="lift", centerpiece=("lodge", "chalet"),
              palette={"tree": 2.5, "rock": 1.5, "terrain": 1.5, "plant": 0.3, "person": 0.8,
                       "prop": 0.6},
              fits=_f("ski snow alpine"), boost=frozenset("ski snow snowy winter lodge".split()),
              exclude=TROPICAL | DESERT | LAVA | FARM_ANIMALS | ROBOTS | WILDLIFE, density=0.5,
              keep=_k("tree .35 rock .5 terrain .5 person .5 prop .5"),
              anchor=_a("tree:clusters rock:clusters terrain:clusters person:buildings "
                        "prop:buildings")),
    Archetype("mountain", "mountain", {**_c("mountain,mountains,peak,peaks,cliff,cliffs,summit,"
              "highlands,ridge", 3), **_c("rocky", 1)}, "nature", "rock", hills=3.0,
              palette={"rock": 8, "tree": 6, "plant": 3, "terrain": 2, "animal": 0.5},
              fits=_f("alpine temperate woodland wild"), boost=frozenset("rock cliff pine mountain".split()),
              exclude=TROPICAL | ROBOTS | LAVA | FARM_ANIMALS | MODERN, density=0.7,
              keep=_k("tree .8"),
              anchor=_a("tree:clusters plant:clusters")),
    Archetype("cave", "cave", _c("cave,caves,cavern,caverns,grotto,underground,mine,lair,"
              "tunnel", 4), "fantasy", "rock", hills=0.6,
              palette={"rock": 8, "plant": 1.5, "terrain": 2, "effect": 0.8, "lighting": 0.6},
              fits=_f("cave"), boost=frozenset("crystal mushroom rock dark".split()),
              exclude=VEGETATION | LIVING | MODERN | ROBOTS | TROPICAL, density=0.5, dry=True,
              seasons=False,
              keep=_k("rock .6 terrain .5 effect .5"),
              anchor=_a("rock:clusters terrain:clusters plant:clusters effect:clusters")),
    Archetype("volcanic", "volcanic field", _c("volcano,volcanic,lava,magma,eruption,"
              "molten", 5), "fantasy", "lava", hills=2.5,
              palette={"rock": 8, "terrain": 5, "effect": 2, "tree": 0.3},
              fits=_f("volcanic"), boost=frozenset("lava fire rock smoke dead".split()),
              exclude=LIVING | SNOW | MODERN | ROBOTS | TROPICAL | frozenset({"flower"}),
              density=0.5, dry=True,
              keep=_k("rock .4 terrain .15 effect .2 tree .5"),
              anchor=_a("rock:clusters terrain:clusters effect:clusters tree:clusters")),
    Archetype("graveyard", "graveyard", {**_c("graveyard,cemetery,haunted,spooky,ghost,ghosts,"
              "crypt,tomb,tombs,halloween,gravestones,graves,churchyard", 5),
              **_c("haunted house", 7)}, "fantasy", "dirt", hills=0.6,
              palette={"tree": 1.2, "prop": 1, "plant": 1.5, "rock": 1.2, "effect": 0.4,
                       "lighting": 1},
              fits=_f("spooky"), boost=frozenset("spooky dead gravestone fog candle dark".split()),
              exclude=LAVA | LIVING | ROBOTS | SCIFI | MODERN | TROPICAL | SURREAL
              | frozenset("sparkles fairy unicorn flower".split()), density=0.6,
              structure="rows", centerpiece=("chapel", "church", "crypt", "mausoleum"),
              keep=_k("effect .3 tree .5 plant .6 rock .6 lighting .3"),
              anchor=_a("prop:buildings lighting:buildings tree:clusters effect:clusters rock:clusters")),
    Archetype("castle", "castle", _c("castle,fortress,citadel,stronghold,keep,moat,"
              "drawbridge,ramparts,battlements", 4), "fantasy", "grass", hills=0.8,
              structure="walls",  # open ground round the walls: a few trees, few people
              palette={"tree": 1.0, "plant": 6, "rock": 1.5, "animal": 0.3, "prop": 1.0,
                       "person": 0.3, "lighting": 0.2},
              fits=_f("castle medieval temperate"),
              boost=frozenset("medieval stone knight banner".split()),
              exclude=ROBOTS | SCIFI | MODERN | LAVA | SURREAL, density=0.7,
              centerpiece=("castle",), own_water=frozenset({"drawbridge", "bridge"}),
              keep=_k("prop .5 person .5 animal .4 plant .7 tree .5"),
              anchor=_a("prop:buildings person:buildings lighting:buildings tree:clusters rock:clusters")),
    Archetype("market", "market square", {**_c("market,marketplace,square,plaza,fair,"
              "merchants,vendors,stalls", 4), **_c("bazaar,bazaars,souk", 6), **_c("market square,town square", 6)},
              "historical", "paved", hills=0.3, structure="plaza",
              palette={"person": 3, "prop": 4, "lighting": 1, "plant": 1, "tree": 1},
              fits=_f("market medieval"), boost=frozenset("market stall barrel crate villager".split()),
              exclude=WILDLIFE | ROBOTS | LAVA | SCIFI | SPOOKY | VEGETATION, density=0.5,
              centerpiece=("fountain", "well"),
              keep=_k("prop .35 person .6 lighting .6 plant .5 tree .5"),
              anchor=_a("prop:centre person:centre lighting:centre plant:buildings tree:buildings")),
    Archetype("park", "park", _c("park,garden,gardens,playground,picnic,botanical,lawn", 3),
              "realistic", "grass", road=True, hills=0.4, structure="main_road",
              palette={"tree": 3, "plant": 7, "prop": 2, "person": 1.5, "lighting": 0.6},
              fits=_f("park garden"), boost=frozenset("park garden flower bench picnic".split()), traffic=False,
              exclude=FARM_ANIMALS | frozenset("wolf bear predator".split()) | ROBOTS | LAVA
              | SPOOKY | SCIFI, density=0.8,
              keep=_k("prop .6 plant .6"),
              anchor=_a("prop:clusters plant:clusters tree:clusters person:clusters")),
    Archetype("campsite", "campsite", {**_c("campsite,camping,camp,campground,campfire,tent,"
              "tents,bonfire", 4)}, "nature", "grass", hills=0.8, structure="tent_ring",
              # the camp reads first: few rocks and trees near it, the tents round the fire
              palette={**P_WILD, "tree": 3.5, "rock": 1.5, "prop": 1.2, "person": 0.6},
              fits=_f("camp temperate woodland wild"),
              boost=frozenset("camp camping forest".split()),
              exclude=MODERN | ROBOTS | LAVA | SCIFI | FARM_ANIMALS | SPOOKY
              | frozenset("army military".split()), density=0.6,
              centerpiece=("campfire",),
              keep=_k("prop .6 effect .3 tree .4 plant .5 rock .5"),
              anchor=_a("prop:centre person:centre tree:clusters effect:clusters rock:clusters")),
    Archetype("military", "military outpost", {**_c("military,outpost,army,bunker,barracks,"
              "checkpoint,soldiers,garrison", 4), **_c("military base,army base", 6)},
              "realistic", "dirt", hills=0.6, structure="walls",
              palette={"prop": 4, "lighting": 0.6, "vehicle": 0.15, "rock": 2, "plant": 1,
                       "person": 1},
              fits=_f("military scrub"), boost=frozenset("cargo container crate metal floodlight".split()),
              exclude=LIVING | FANTASY | SURREAL | SPOOKY | LAVA, density=0.5,
              keep=_k("prop .35 rock .5 plant .5"),
              anchor=_a("prop:buildings person:buildings lighting:buildings vehicle:buildings rock:clusters")),
    Archetype("industrial", "industrial estate", _c("factory,factories,industrial,warehouse,"
              "warehouses,refinery,plant,smokestack,depot", 4), "urban", "paved", road=True,
              hills=0.2, structure="main_road",
              palette={"prop": 4, "lighting": 0.6, "person": 1, "plant": 0.8, "effect": 1},
              fits=_f("industrial"), boost=frozenset("industrial cargo container metal steam".split()),
              exclude=LIVING | FANTASY | SURREAL | SPOOKY | LAVA, density=0.5,
              keep=_k("prop .35 effect .5 plant .5"),
              anchor=_a("prop:buildings person:buildings lighting:buildings effect:buildings")),
    Archetype("space_station", "space station", {**_c("station,orbital,spaceport", 2),
              **_c("space station,starbase,docking bay", 7)}, "sci_fi", "metal", hills=0.1,
              palette={"prop": 4, "lighting": 1, "person": 1.5, "effect": 0.8},
              fits=_f("station space"), boost=frozenset("futuristic metal technology".split()),
              exclude=VEGETATION | LIVING | FANTASY | LAVA | SPOOKY, density=1.0, dry=True,
              # a station is packed with machinery, but round its modules, not in its gangways
              centerpiece=("station",), seasons=False,
              keep=_k("prop .35 person .5 lighting .6 effect .5 vehicle .3"),
              anchor=_a("prop:clusters person:buildings lighting:buildings vehicle:buildings effect:clusters")),
    Archetype("moon_base", "moon base", {**_c("moon,lunar,mars,martian,crater,craters,"
              "astronaut,astronauts", 4), **_c("moon base,lunar base", 7)}, "space", "regolith",
              hills=1.2, palette=dict(P_SPACE), fits=_f("lunar space"), boost=frozenset("moon lunar crater".split()),
              exclude=VEGETATION | LIVING | FANTASY | LAVA | SPOOKY | frozenset({"water"}),
              density=0.5, dry=True, seasons=False,
              keep=_k("rock .6 terrain .6 prop .5 vehicle .2"),
              anchor=_a("rock:clusters terrain:clusters prop:buildings person:buildings vehicle:buildings")),
    Archetype("alien_planet", "alien world", {**_c("alien,planet,exoplanet,extraterrestrial",
              3), **_c("alien planet,alien world", 7)}, "space", "regolith", hills=1.5,
              palette={"tree": 4, "plant": 5, "rock": 4, "terrain": 2, "animal": 1},
              fits=_f("alien"), boost=frozenset("alien strange glowing crystal".split()),
              exclude=FARM_ANIMALS | WILDLIFE | MODERN | LAVA | SPOOKY, density=0.7, dry=True,
              seasons=False,
              keep=_k("plant .6 tree .4"),
              anchor=_a("plant:clusters tree:clusters rock:clusters")),
    Archetype("underwater", "reef", {**_c("underwater,reef,coral,seabed,seafloor,undersea,"
              "submarine,shipwreck,seaweed,kelp", 5), **_c("sea floor,ocean floor", 7)},
              "nature", "seabed", water="seabed", hills=0.8,
              palette={"terrain": 5, "plant": 4, "rock": 2.5, "effect": 0.8, "person": 0.15,
                       "animal": 1.2},
              fits=_f("marine"),  # the floor of the sea: only what lives or lies there
              boost=frozenset("coral seaweed fish reef ocean kelp".split()),
              exclude=LIVING | MODERN | ROBOTS | LAVA | VEGETATION - frozenset({"plant"})
              | SNOW | SPOOKY | frozenset("pier dock boat ship kayak rowboat motorboat lily "
                                          "reeds bridge canoe".split()), density=0.6,
              seasons=False,
              # coral heads and kelp beds with open sand between them, not an even carpet
              keep=_k("terrain .55 plant .45 rock .4 effect .4"),
              anchor=_a("plant:clusters terrain:clusters rock:clusters")),
    Archetype("wild_west", "frontier town", {**_c("western,cowboy,cowboys,saloon,sheriff,"
              "frontier,outlaws,stagecoach", 4), **_c("wild west", 10)}, "historical", "sand",
              road=True, hills=0.5, structure="main_road",
              palette={"prop": 3, "rock": 3, "plant": 1.5, "person": 1.5, "animal": 1},
              fits=_f("western desert"), boost=frozenset("wooden desert cactus barrel horse".split()),
              exclude=ROBOTS | SCIFI | MODERN | SNOW | LAVA | FANTASY | SURREAL, density=0.5,
              keep=_k("prop .4 rock .5 plant .5"),
              anchor=_a("prop:buildings person:buildings animal:buildings rock:clusters plant:clusters")),
    Archetype("temple", "temple ruins", {**_c("temple,temples,ruins,ruin,ruined,shrine,sanctuary,"
              "ancient,pyramid,colosseum", 3), **_c("pagoda,pagodas", 5)}, "historical", "dirt", hills=0.8,
              structure="plaza", palette={"tree": 1.5, "plant": 5, "rock": 4, "prop": 2.5},
              fits=_f("ruins temperate"), boost=frozenset("ruin ancient stone column statue".split()),
              exclude=MODERN | ROBOTS | SCIFI | LAVA | FARM_ANIMALS, density=0.7,
              centerpiece=("temple",),
              keep=_k("prop .5 rock .6"),
              anchor=_a("prop:centre rock:clusters plant:clusters tree:clusters")),
)
DEFAULT: Final[Archetype] = Archetype(
    "meadow", "landscape", {}, "nature", "grass", palette=dict(P_WILD),
    exclude=frozenset(), density=1.0)
BY_NAME: Final[dict[str, Archetype]] = {a.name: a for a in (*ARCHETYPES, DEFAULT)}
CUE_WORDS: Final[frozenset[str]] = frozenset(
    w for a in ARCHETYPES for cue in a.cues for w in cue.split())


_CUE_INDEX: Final[dict[str, tuple[tuple[int, float], ...]]] = {
    cue: tuple((k, a.cues[cue]) for k, a in enumerate(ARCHETYPES) if cue in a.cues)
    for a in ARCHETYPES for cue in a.cues}


def choose(tokens: list[str]) -> Archetype:
    """The archetype whose cue words (single words and adjacent pairs) weigh most; ties go to
    the earlier row; no cue at all gives the open landscape."""
    pairs = [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    scores = [0.0] * len(ARCHETYPES)
    # a word and its lemma are one vote ("ruins" is not a ruin twice over)
    for forms in dict.fromkeys([(t, lemma(t)) for t in tokens] + [(p, p) for p in pairs]):
        votes: dict[int, float] = {}
        for w in dict.fromkeys(forms):
            for k, weight in _CUE_INDEX.get(w, ()):
                votes[k] = weight if k not in votes else max(votes[k], weight)
        for k, weight in votes.items():
            scores[k] += weight
    best = max(range(len(ARCHETYPES)), key=lambda k: (scores[k], -k))
    return ARCHETYPES[best] if scores[best] > 0 else DEFAULT
