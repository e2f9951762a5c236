// The gallery (docs/discover.md §6): public experiences from GET /api/v1/discover/experiences,
// which needs no token; each card's thumbnail is its world's map.png, public for a public card's
// world, so a plain <img> loads it. A card opens its world in the live preview (/preview/{id}).
// window.__gallery exposes the page's state for the browser test.
"use strict";

(() => {
  const PAGE = 24;
  const $ = (id) => document.getElementById(id);
  const state = { status: "loading", cards: [], nextOffset: null, query: "", sort: "", lastError: null,
                  requests: 0 };
  window.__gallery = state;

  function params(offset) {
    const p = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (state.query) p.set("q", state.query);
    if (state.sort) p.set("sort", state.sort);
    return p;
  }

  function stars(card) {
    if (!card.rating_count) return "no ratings";
    return `★ ${card.rating.toFixed(1)} (${card.rating_count})`;
  }

  function tile(card) {
    const node = $("card-template").content.firstElementChild.cloneNode(true);
    node.dataset.id = card.id;
    const link = node.querySelector(".open");
    link.href = `/preview/${encodeURIComponent(card.world_blueprint_id)}`;
    const img = node.querySelector(".thumb");
    img.src = card.thumbnail_url || `/api/v1/worlds/${encodeURIComponent(card.world_blueprint_id)}/map.png`;
    img.alt = `map of ${card.title}`;
    node.querySelector(".title").textContent = card.title;
    node.querySelector(".desc").textContent = card.description;
    const tags = node.querySelector(".tags");
    for (const t of card.tags) {
      const span = document.createElement("span");
      span.className = "tag";
      span.textContent = t;
      tags.appendChild(span);
    }
    node.querySelector(".type").textContent = card.world_type.replace("_", " ");
    node.querySelector(".plays").textContent = `${card.play_count} ${card.play_count === 1 ? "play" : "plays"}`;
    const rating = node.querySelector(".rating");
    rating.textContent = stars(card);
    rating.classList.toggle("rated", card.rating_count > 0);
    node.querySelector(".author").textContent = card.author_name ? `by ${card.author_name}` : "";
    return node;
  }

  async function load(offset) {
    state.status = "loading";
    state.requests += 1;
    const asked = state.requests;
    try {
      const resp = await fetch(`/api/v1/discover/experiences?${params(offset)}`);
      const body = await resp.json();
      if (asked !== state.requests) return; // a newer search replaced this one
      if (!resp.ok) throw new Error(body.message || `HTTP ${resp.status}`);
      if (offset === 0) {
        state.cards = [];
        $("grid").replaceChildren();
      }
      for (const card of body.experiences) {
        state.cards.push(card);
        $("grid").appendChild(tile(card));
      }
      state.nextOffset = body.next_offset;
      state.lastError = null;
      $("more-button").hidden = body.next_offset === null;
      $("status").textContent = state.cards.length
        ? `${state.cards.length}${body.next_offset === null ? "" : "+"} worlds` + (state.query ? ` for “${state.query}”` : "")
        : (state.query ? `No worlds match “${state.query}”.` : "No published worlds yet.");
      state.status = "ready";
    } catch (err) {
      if (asked !== state.requests) return;
      state.lastError = String(err.message || err);
      $("status").textContent = `Could not load the gallery: ${state.lastError}`;
      state.status = "error";
    }
  }

  function search() {
    state.query = $("search-input").value.trim();
    state.sort = $("sort-select").value;
    const url = new URL(location.href);
    url.search = "";
    if (state.query) url.searchParams.set("q", state.query);
    if (state.sort) url.searchParams.set("sort", state.sort);
    history.replaceState(null, "", url);
    load(0);
  }

  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  $("sort-select").addEventListener("change", search);
  $("more-button").addEventListener("click", () => { if (state.nextOffset !== null) load(state.nextOffset); });

  const initial = new URLSearchParams(location.search);
  $("search-input").value = initial.get("q") || "";
  $("sort-select").value = initial.get("sort") || "";
  search();
})();
