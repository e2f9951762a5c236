"""Discovery (docs/discover.md): search and sorted listings of public experiences, ratings,
and the author's analytics. Plays are counted where a socket joins a world (server/hub.py).

The search needs no token (the /gallery page and an `<img>` of a public map need none
either); with one, `mine=true` lists the caller's own cards, public or not.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from persistence.catalog import WORLD_TYPES
from persistence.clock import utcnow
from persistence.discovery import SORTS, Found, Query, search_terms

from ..context import SERVICES, Services
from ..errors import forbidden, not_found, validation
from ..http import bearer_token, identity, json_response, read_json
from ..validate import F, paging, query, validate
from .publish import card, experience_for

routes = web.RouteTableDef()
MAX_TAGS = 8
SEARCH = (F("q", "str", required=False, max=200), F("tags", "str", required=False, max=8 * 65),
          F("world_type", "str", required=False, choices=WORLD_TYPES),
          F("sort", "str", required=False, choices=SORTS), *paging(20, 100),
          F("mine", "bool", required=False, default=False))
RATE = (F("stars", "int", min=1, max=5),)
RANGE = (F("from", "str", required=False, min=10, max=10), F("to", "str", required=False, min=10, max=10))


def _query(q: dict[str, Any], author_id: str | None) -> Query:
    problems: dict[str, str] = {}
    terms = tuple(search_terms(q["q"] or ""))
    if q["q"] and not terms:
        problems["q"] = "must contain a letter or a digit"
    tags = tuple(t.strip() for t in (q["tags"] or "").split(",") if t.strip())
    if len(tags) > MAX_TAGS or any(len(t) > 64 for t in tags):
        problems["tags"] = f"at most {MAX_TAGS} comma-separated tags of 1..64 characters"
    sort = q["sort"] or ("relevance" if terms else "newest")
    if sort == "relevance" and not terms:
        problems["sort"] = "relevance needs a search text (q)"
    if problems:
        raise validation(problems)
    return Query(terms=terms, tags=tags, world_type=q["world_type"], sort=sort, limit=q["limit"] + 1,
                 offset=q["offset"], author_id=author_id)


async def discovered_cards(services: Services, rows: list[Found]) -> list[dict[str, Any]]:
    users = await services.store.users.get_many(sorted({f.experience.author_id for f in rows}))
    return [{**card(services, f.experience, f.shown, getattr(users.get(f.experience.author_id), "display_name", None)),
             "rating_count": f.experience.rating_count, "world_type": f.world_type} for f in rows]


@routes.get("/api/v1/discover/experiences")
async def search(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    q = query(request.query, SEARCH)
    # A token is optional, but one that is sent must be valid (a stale one is a 401, not a
    # silently anonymous answer); `mine` needs one.
    ident = identity(request) if q["mine"] or bearer_token(request) is not None else None
    found = await services.store.discovery.search(_query(q, ident.user_id if q["mine"] and ident else None))
    more = len(found) > q["limit"]
    page = found[:q["limit"]]
    return json_response({"success": True, "experiences": await discovered_cards(services, page),
                          "next_offset": q["offset"] + len(page) if more else None,
                          "message": f"Found {len(page)} experiences"})


@routes.put("/api/v1/publish/experiences/{experience_id}/rating")
async def rate(request: web.Request) -> web.Response:
    """Rate a card 1–5; rating again replaces your earlier stars. Authors do not rate their own."""
    services = request.app[SERVICES]
    ident = identity(request)
    exp, _ = await experience_for(services, ident, request.match_info["experience_id"])
    if exp.author_id == ident.user_id:
        raise forbidden("authors cannot rate their own experience")
    stars = validate(await read_json(request), RATE)["stars"]
    total, count = await services.store.discovery.rate(exp.id, ident.user_id, stars)
    return json_response({"success": True, "message": "Rating saved", "experience_id": exp.id,
                          "your_rating": stars, "rating": total / count, "rating_count": count})


def _range(params: dict[str, Any], max_days: int) -> tuple[date, date]:
    """[from, to] in UTC days, both inclusive; the last 30 days up to today by default."""
    days: dict[str, date] = {}
    problems: dict[str, str] = {}
    for name in ("from", "to"):
        if params[name] is not None:
            try:
                days[name] = date.fromisoformat(params[name])
            except ValueError:
                problems[name] = "must be a date YYYY-MM-DD"
    if problems:
        raise validation(problems)
    end = days.get("to", utcnow().date())
    start = days.get("from", end - timedelta(days=29))
    if start > end:
        raise validation({"from": "must not be after to"})
    if (end - start).days + 1 > max_days:
        raise validation({"from": f"the range may cover at most {max_days} days"})
    return start, end


@routes.get("/api/v1/publish/experiences/{experience_id}/analytics")
async def analytics(request: web.Request) -> web.Response:
    """Per-day plays, unique players, session lengths and events by type of one card, for
    its author and the operators named in `analytics_operators` (docs/discover.md §5)."""
    services = request.app[SERVICES]
    ident = identity(request)
    exp = await services.store.experiences.get(request.match_info["experience_id"])
    if exp is None:
        raise not_found("experience not found")
    operators = {o.strip() for o in services.settings.analytics_operators.split(",") if o.strip()}
    if exp.author_id != ident.user_id and ident.user_id not in operators:
        raise forbidden("only the experience's author (or an operator) may read its analytics")
    start, end = _range(query(request.query, RANGE), services.settings.analytics_max_days)
    days, unique = await services.store.analytics.daily(exp.id, exp.world_id, start, end)
    events: dict[str, int] = {}
    for day in days:
        for kind, count in day.events.items():
            events[kind] = events.get(kind, 0) + count
    totals = {"plays": sum(d.plays for d in days), "unique_players": unique,
              "sessions": sum(d.sessions for d in days), "events": events}
    return json_response({"success": True, "experience_id": exp.id, "world_blueprint_id": exp.world_id,
                          "from": start.isoformat(), "to": end.isoformat(), "totals": totals,
                          "days": [{"day": d.day, "plays": d.plays, "unique_players": d.unique_players,
                                    "sessions": d.sessions, "avg_session_s": d.avg_session_s,
                                    "p90_session_s": d.p90_session_s, "events": d.events} for d in days],
                          "message": f"Analytics for {len(days)} days"})
