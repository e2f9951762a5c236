// ImmersiVerse world preview: a browser client of the session protocol (docs/protocol.md).
// It signs in over REST (a guest id, or a pasted token), holds one WebSocket speaking binary
// msgpack frames (the browser `hello` path, §3.1), and draws the world top-down as it streams in:
// footprints coloured by prefab type, water and path pieces, spawn points, other members'
// cursors and selections. Edits (move, rotate, remove, add) are `edit` frames; other members'
// edits arrive as `op` frames. The page's state is on window.__preview for tests.
"use strict";
(function () {
  const { encode, decode } = window.MessagePack;
  const $ = (id) => document.getElementById(id);

  const TYPE_COLOURS = {
    building: "#c8463c", vehicle: "#f0aa28", character: "#e65ac8", prop: "#a0784a",
    environment: "#3c9a4a", lighting: "#fff078", effect: "#96c8ff", ui: "#ffffff",
  };
  const WATER = "#3f7fd0", PATH = "#c8b084", SPAWN = "#ffffff", UNKNOWN = "#9aa0aa";
  const STEP = 1; // metres per arrow press (shift: 5)
  const CLIENT = { name: "immersiverse-preview", version: "1" };

  // -- state ------------------------------------------------------------------------------------
  const S = {
    status: "signing-in", token: null, userId: null, displayName: null, sessionId: null,
    ws: null, rid: 0, pending: new Map(), heartbeat: null, retries: 0, closing: false, lastBye: null,
    catalog: new Map(), world: null, members: new Map(), selected: null, placing: null,
    lastError: null, wantWorld: worldIdFromPath(), genRid: null, genWorld: null, latencyMs: null,
    view: { zoom: 1, panX: 0, panY: 0 }, recent: new Map(),
  };

  function newWorld(id, role) {
    return { id, role, header: null, status: "joining", seq: 0, instances: new Map(), expected: 0,
             received: 0, chunks: 0, startedAt: performance.now(), timings: null, genStatus: null,
             ground: null, groundFor: null };
  }

  function worldIdFromPath() {
    const m = location.pathname.match(/^\/preview\/([^/]+)\/?$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // -- test/automation surface ----------------------------------------------------------------
  window.__preview = {
    get status() { return S.status; },
    get worldId() { return S.world ? S.world.id : null; },
    get seq() { return S.world ? S.world.seq : null; },
    get instanceCount() { return S.world ? S.world.instances.size : 0; },
    get expected() { return S.world ? S.world.expected : 0; },
    get chunks() { return S.world ? S.world.chunks : 0; },
    get role() { return S.world ? S.world.role : null; },
    get members() { return [...S.members.values()].map((m) => ({ user_id: m.user_id,
      display_name: m.display_name, role: m.role, session_id: m.session_id, selection: m.selection || [] })); },
    get userId() { return S.userId; },
    get sessionId() { return S.sessionId; },
    get selected() { return S.selected; },
    get lastError() { return S.lastError; },
    get header() { return S.world ? S.world.header : null; },
    ids() { return S.world ? [...S.world.instances.keys()] : []; },
    terrain() { // the decoded ground image (docs/protocol.md §6.6): size and RGB rows, north first
      const t = S.world && groundOf(S.world);
      return t ? { n: t.n, size: t.size, rgb: Array.from(t.rgb) } : null; },
    instance(id) { const i = S.world && S.world.instances.get(id); return i ? JSON.parse(JSON.stringify(i)) : null; },
    screenOf(id) { // page coordinates of an instance's centre (for clicking it)
      const i = S.world && S.world.instances.get(id);
      if (!i) return null;
      const r = canvas.getBoundingClientRect(), p = toScreen(i.pos[0], i.pos[2]);
      return { x: r.left + p[0], y: r.top + p[1] };
    },
  };

  // -- REST ------------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (S.token) headers.Authorization = "Bearer " + S.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.message || `${method} ${path}: HTTP ${resp.status}`);
    return data;
  }

  async function signIn() {
    setStatus("signing-in");
    const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromHash) history.replaceState(null, "", location.pathname + location.search);
    const candidate = fromHash || localStorage.getItem("iv.token");
    if (candidate) {
      S.token = candidate;
      try {
        const v = await api("GET", "/api/v1/auth/validate");
        S.userId = v.user_id; S.displayName = localStorage.getItem("iv.name") || v.user_id;
        localStorage.setItem("iv.token", candidate);
        return;
      } catch (e) {
        log(`stored token refused (${e.message}); signing in as a guest`);
        S.token = null; localStorage.removeItem("iv.token");
      }
    }
    await guestLogin(localStorage.getItem("iv.guest"));
  }

  async function guestLogin(guestId) {
    // The id is this browser's login (with its device secret): 128 random bits, not guessable.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = guestId || "guest-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const secret = guestId ? localStorage.getItem("iv.guest_secret") : null;
    S.token = null;
    const body = secret ? { user_id: id, device_secret: secret } : { user_id: id };
    const s = await api("POST", "/api/v1/auth/login", body);
    S.token = s.token; S.userId = s.user_id; S.displayName = s.display_name || s.public_id;
    localStorage.setItem("iv.guest", id);
    if (s.device_secret) localStorage.setItem("iv.guest_secret", s.device_secret);
    localStorage.setItem("iv.name", S.displayName);
    localStorage.setItem("iv.token", s.token);
  }

  // World types as the server documents them (the OpenAPI document), not a copy kept here.
  async function loadWorldTypes() {
    const doc = await api("GET", "/api/v1/openapi.json");
    const prop = doc.components.schemas.Prompt2WorldRequest.properties.world_type;
    const types = (prop.anyOf || [prop]).flatMap((s) => s.enum || []);
    const select = $("type-select");
    for (const t of types) select.add(new Option(t.replace("_", "-"), t));
  }

  // Sizes above the server's max_instances (welcome.limits) are not offered; the limit itself is.
  function limitSizes(max) {
    if (!max) return;
    const select = $("size-select");
    for (const o of [...select.options]) if (o.value && Number(o.value) > max) o.remove();
    if (![...select.options].some((o) => Number(o.value) === max)) {
      select.add(new Option(`largest · ${max.toLocaleString("en")}`, String(max)));
    }
  }

  async function loadCatalog() {
    const out = new Map();
    for (let offset = 0, total = 1; offset < total; offset += 100) {
      const page = await api("GET", `/api/v1/prefab-catalog/?limit=100&offset=${offset}`);
      total = page.total_count;
      for (const p of page.prefabs) {
        const pl = (p.properties && p.properties.placement) || {};
        out.set(p.id, { id: p.id, name: p.name, type: p.type, width: pl.width || 1, depth: pl.depth || 1,
                        surface: pl.surface || "ground", pattern: pl.pattern || "single" });
      }
      if (!page.prefabs.length) break;
    }
    S.catalog = out;
    const select = $("prefab-select");
    const byType = {};
    for (const p of out.values()) (byType[p.type] = byType[p.type] || []).push(p);
    for (const type of Object.keys(byType).sort()) {
      const group = document.createElement("optgroup");
      group.label = type;
      for (const p of byType[type].sort((a, b) => a.name.localeCompare(b.name))) {
        const o = document.createElement("option");
        o.value = p.id; o.textContent = p.name;
        group.appendChild(o);
      }
      select.appendChild(group);
    }
    dirty();
  }

  // -- WebSocket -------------------------------------------------------------------------------
  function connect() {
    setStatus("connecting");
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    S.ws = ws; S.lastBye = null;
    ws.onopen = () => send({ type: "hello", v: 1, token: S.token, client: CLIENT });
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") return;
      let msg;
      try { msg = decode(new Uint8Array(ev.data)); } catch (e) { log("undecodable frame: " + e.message, true); return; }
      try { onFrame(msg); } catch (e) { log(`failed to handle ${msg && msg.type}: ${e.message}`, true); console.error(e); }
    };
    ws.onclose = (ev) => onClose(ws, ev.code);
  }

  function send(frame) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) { S.ws.send(encode(frame)); return true; }
    return false;
  }

  function request(frame, info) {
    const rid = ++S.rid;
    S.pending.set(rid, { ...info, type: frame.type });
    send({ ...frame, rid });
    return rid;
  }

  function onClose(ws, code) {
    if (ws !== S.ws) return;
    clearInterval(S.heartbeat);
    S.pending.clear();
    setConn("off", `closed ${code}`);
    const bye = S.lastBye;
    const terminal = S.closing || code === 1000 || (code >= 4500 && code <= 4999) || (bye && bye.reconnect === false);
    if (terminal) {
      fail(bye ? `disconnected: ${bye.message || bye.reason} (${code})` : `disconnected (${code})`);
      return;
    }
    if (S.world) S.wantWorld = S.world.id;
    const delay = Math.min(15000, 500 * 2 ** S.retries++) * (0.75 + Math.random() / 2);
    setStatus("reconnecting");
    log(`connection closed (${code}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    setTimeout(connect, Math.max(delay, (bye && bye.retry_after_s || 0) * 1000));
  }

  function join(worldId) {
    const resume = S.world && S.world.id === worldId && S.world.header ? S.world.seq : undefined;
    if (!S.world || S.world.id !== worldId) {
      S.world = newWorld(worldId, null);
      S.members.clear(); S.selected = null;
      fitView();
    }
    S.world.status = "joining";
    setStatus("joining");
    const frame = { type: "join", world_id: worldId };
    if (resume !== undefined) frame.since_seq = resume;
    request(frame, { worldId });
    setUrl(worldId);
  }

  // -- frames ----------------------------------------------------------------------------------
  function onFrame(msg) {
    const w = S.world;
    const mine = (m) => w && m.world_id === w.id;
    switch (msg.type) {
      case "welcome":
        S.sessionId = msg.session_id; S.userId = msg.user_id; S.retries = 0;
        limitSizes(msg.limits && msg.limits.max_instances);
        setConn("on", "connected");
        $("who").textContent = `${S.displayName || S.userId}`;
        clearInterval(S.heartbeat);
        S.heartbeat = setInterval(() => request({ type: "ping" }, { sentAt: performance.now() }),
                                  Math.max(1000, (msg.heartbeat_s || 15) * 1000 * 0.8));
        if (S.wantWorld) { const id = S.wantWorld; S.wantWorld = null; join(id); }
        else setStatus(w ? w.status : "ready");
        break;
      case "pong": {
        const p = S.pending.get(msg.rid);
        if (p && p.sentAt) S.latencyMs = Math.round(performance.now() - p.sentAt);
        S.pending.delete(msg.rid);
        setConn("on", `connected · ${S.latencyMs} ms`);
        break;
      }
      case "gen.start":
        if (msg.session_id === S.sessionId && msg.rid === S.genRid) {
          if (w && w.id !== msg.world_id && w.role) send({ type: "leave", rid: ++S.rid, world_id: w.id });
          S.world = newWorld(msg.world_id, "owner");
          S.members.clear(); S.selected = null;
          S.members.set(S.sessionId, { user_id: S.userId, display_name: S.displayName || S.userId,
                                       role: "owner", session_id: S.sessionId });
          S.genWorld = msg.world_id;
          setUrl(msg.world_id);
        } else if (!mine(msg)) return;
        S.world.header = msg.header || {};
        S.world.expected = S.world.header.instance_count || 0;
        S.world.status = "generating";
        S.world.startedAt = performance.now();
        fitView();
        log(`generating ${S.world.id}: ${S.world.header.title || ""}`);
        setStatus("generating");
        break;
      case "gen.chunk":
        if (!mine(msg)) return;
        for (const inst of msg.instances) addInstance(inst, true);
        w.received += msg.instances.length;
        w.chunks = Math.max(w.chunks, msg.index + 1);
        dirty(); renderInfo();
        break;
      case "gen.done":
        if (msg.world_id === S.genWorld && msg.rid === S.genRid) { S.pending.delete(msg.rid); finishOwnPrompt(); }
        if (!mine(msg)) return;
        w.timings = msg.timings; w.genStatus = msg.status; w.chunks = msg.chunks;
        w.expected = msg.instances;  // gen.start's header had no count yet (protocol §7.2)
        w.status = "done";
        log(`generation ${msg.status}: ${msg.instances} instances in ${msg.chunks} chunks` +
            (msg.timings ? `, ${Math.round(msg.timings.total_ms)} ms` : ""));
        (msg.warnings || []).forEach((x) => log("warning: " + x));
        setStatus("done");
        break;
      case "joined": {
        const p = S.pending.get(msg.rid); S.pending.delete(msg.rid);
        if (!mine(msg)) return;
        w.role = msg.role; w.seq = msg.seq;
        S.members.clear();
        for (const m of msg.members) S.members.set(m.session_id, { ...m });
        if (msg.mode === "snapshot") { w.instances.clear(); w.received = 0; }
        else { w.status = w.header && w.header.status === "generating" ? "generating" : "done"; setStatus(w.status); }
        log(`joined ${msg.world_id} as ${msg.role} (${msg.mode}, seq ${msg.seq})`);
        void p;
        break;
      }
      case "snapshot":
        if (!mine(msg)) return;
        if (msg.header) {
          w.header = msg.header;
          // a world still generating: its header counts the stored prefix, not the whole world
          w.expected = msg.header.status === "generating" ? 0 : msg.header.instance_count || 0;
          if (msg.index === 0) fitView();
        }
        for (const inst of msg.instances) addInstance(inst, false);
        w.received = w.instances.size; w.seq = msg.seq;
        if (msg.last) {
          w.status = w.header && w.header.status === "generating" ? "generating" : "done";
          if (w.status === "done") w.genStatus = w.header && w.header.status;
          setStatus(w.status);
        }
        dirty();
        break;
      case "op":
        if (!mine(msg) || msg.seq <= w.seq) return;
        applyOps(msg.ops, null);
        w.seq = msg.seq;
        log(`${msg.author} edited: ${describeOps(msg.ops)} (seq ${msg.seq})`);
        renderInfo();
        break;
      case "edit.ack": {
        const p = S.pending.get(msg.rid); S.pending.delete(msg.rid);
        if (p && mine(msg)) {
          applyOps(p.ops, msg.results);
          w.seq = Math.max(w.seq, msg.seq);
          $("edit-text").textContent = `saved as seq ${msg.seq}`;
        }
        renderInfo();
        break;
      }
      case "presence":
        if (!mine(msg)) return;
        onPresence(msg);
        break;
      case "left": case "cancelled": case "telemetry.ack": case "auth.ok":
        S.pending.delete(msg.rid);
        break;
      case "error":
        onError(msg);
        break;
      case "bye":
        S.lastBye = msg;
        log(`server says bye: ${msg.reason}${msg.message ? ": " + msg.message : ""} (${msg.code})`, true);
        break;
      default:
        break; // newer server messages are ignored (§2.5)
    }
  }

  function onError(msg) {
    const p = msg.rid !== undefined ? S.pending.get(msg.rid) : null;
    if (p) S.pending.delete(msg.rid);
    const text = `${msg.name}: ${msg.message}` + (msg.fields ? " " + JSON.stringify(msg.fields) : "");
    log(text, true);
    if (!p) return;
    if (p.type === "join") {
      S.lastError = text;
      if (S.world && S.world.id === p.worldId) S.world.status = "error";
      fail(msg.name === "not_found" || msg.name === "forbidden"
        ? `cannot open ${p.worldId}: ${msg.message}` : text);
    } else if (p.type === "prompt") {
      finishOwnPrompt();
      S.lastError = text;
      toast(text);
      setStatus(S.world ? S.world.status : "ready");
    } else if (p.type === "edit") {
      S.lastError = text;
      $("edit-text").textContent = msg.message;
      toast(msg.message);
    }
  }

  function onPresence(msg) {
    // `members`: the joins (or leaves) of one room tick in one frame (docs/protocol.md §7.4)
    for (const m of msg.members || [msg.member]) {
      if (msg.event === "leave") S.members.delete(m.session_id);
      else {
        const prev = S.members.get(m.session_id) || {};
        S.members.set(m.session_id, { ...prev, ...m, seen: performance.now(),
          cursor: msg.event === "update" ? msg.cursor || prev.cursor : prev.cursor,
          selection: msg.event === "update" ? msg.selection || [] : prev.selection });
        if (msg.event === "join") log(`${m.display_name || m.user_id} joined`);
      }
      if (msg.event === "leave") log(`${m.display_name || m.user_id} left`);
    }
    renderMembers(); dirty();
  }

  function finishOwnPrompt() {
    S.genRid = null; S.genWorld = null;
    $("prompt-button").disabled = false;
  }

  // -- world model -------------------------------------------------------------------------------
  function addInstance(i, fresh) {
    S.world.instances.set(i.id, { id: i.id, prefab_id: i.prefab_id, prefab_type: i.prefab_type,
      pos: i.pos, rot: i.rot || [0, 0, 0, 1], scale: i.scale || [1, 1, 1], props: i.props || {} });
    if (fresh) S.recent.set(i.id, performance.now());
  }

  function applyOps(ops, results) {
    const w = S.world;
    ops.forEach((op, n) => {
      if (results && (!results[n] || results[n].outcome !== "applied")) return;
      const id = results ? results[n].id : op.id;
      if (op.op === "add") {
        const p = S.catalog.get(op.prefab_id);
        addInstance({ ...op, id, prefab_type: op.prefab_type || (p ? p.type : "prop") }, true);
      } else if (op.op === "move") {
        const i = w.instances.get(id);
        if (!i) return;
        if (op.pos) i.pos = op.pos;
        if (op.rot) i.rot = op.rot;
        if (op.scale) i.scale = op.scale;
        S.recent.set(id, performance.now());
      } else if (op.op === "set") {
        const i = w.instances.get(id);
        if (!i) return;
        for (const [k, v] of Object.entries(op.props || {})) {
          if (v === null || v === undefined) delete i.props[k]; else i.props[k] = v;
        }
      } else if (op.op === "remove") {
        w.instances.delete(id);
        if (S.selected === id) select(null);
      }
    });
    dirty(); renderInfo();
  }

  function describeOps(ops) {
    const counts = {};
    for (const op of ops) counts[op.op] = (counts[op.op] || 0) + 1;
    return Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
  }

  function bounds() {
    const b = S.world && S.world.header && S.world.header.bounds;
    if (!b) return null;
    // docs/protocol.md §6.5: on the socket every Vector3 is an array [x, y, z].
    return { x0: b.min[0], z0: b.min[2], x1: b.max[0], z1: b.max[2], y0: b.min[1], y1: b.max[1] };
  }

  function spawnPoints() {
    return (S.world && S.world.header && S.world.header.spawn_points) || [];
  }

  function yawOf(rot) { return 2 * Math.atan2(rot[1], rot[3]); } // radians about +Y (Unity)

  function footprint(i) {
    const p = S.catalog.get(i.prefab_id);
    const sx = i.scale[0] || 1, sz = i.scale[2] || 1;
    return { w: (p ? p.width : 1) * sx, d: (p ? p.depth : 1) * sz, p };
  }

  function colourOf(i, p) {
    if (p && p.surface === "water") return WATER;
    if (p && p.pattern === "line" && p.type === "environment") return PATH;
    return TYPE_COLOURS[i.prefab_type] || UNKNOWN;
  }

  // -- editing -------------------------------------------------------------------------------------
  function canEdit() { return S.world && (S.world.role === "owner" || S.world.role === "editor") && S.world.status === "done"; }

  function edit(ops) {
    if (!canEdit()) { toast(S.world && S.world.status !== "done" ? "wait until the world is complete"
                                                                  : "viewers cannot edit this world"); return; }
    request({ type: "edit", world_id: S.world.id, ops }, { ops });
    $("edit-text").textContent = "saving…";
  }

  function clampPos(x, y, z) {
    const b = bounds();
    if (!b) return [x, y, z];
    const c = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [c(x, b.x0, b.x1), c(y, b.y0, b.y1), c(z, b.z0, b.z1)];
  }

  function moveSelected(dx, dz) {
    const i = S.selected && S.world.instances.get(S.selected);
    if (!i) return;
    const r = (v) => Math.round(v * 1000) / 1000;
    edit([{ op: "move", id: i.id, pos: clampPos(r(i.pos[0] + dx), i.pos[1], r(i.pos[2] + dz)) }]);
  }

  function rotateSelected() {
    const i = S.selected && S.world.instances.get(S.selected);
    if (!i) return;
    const yaw = yawOf(i.rot) + Math.PI / 4;
    edit([{ op: "move", id: i.id, rot: [0, Math.sin(yaw / 2), 0, Math.cos(yaw / 2)] }]);
  }

  function removeSelected() {
    if (S.selected) edit([{ op: "remove", id: S.selected }]);
  }

  function select(id) {
    S.selected = id;
    const i = id && S.world.instances.get(id);
    const p = i && S.catalog.get(i.prefab_id);
    $("selection-text").innerHTML = i
      ? `<b>${esc(p ? p.name : i.prefab_id)}</b> <span class="role">${esc(i.prefab_type)}</span><br>` +
        `${esc(i.id)} at (${i.pos[0].toFixed(1)}, ${i.pos[2].toFixed(1)})`
      : "Click an instance on the map to select it.";
    sendPresence(null);
    renderEditing(); dirty();
  }

  let lastPresence = 0, presenceTimer = null, lastCursor = null;
  function sendPresence(cursor) {
    if (!S.world || !S.world.role) return;
    if (cursor) lastCursor = cursor;
    const now = performance.now();
    const go = () => {
      lastPresence = performance.now(); presenceTimer = null;
      const f = { type: "presence", world_id: S.world.id, selection: S.selected ? [S.selected] : [] };
      if (lastCursor) f.cursor = lastCursor;
      send(f);
    };
    if (now - lastPresence > 250) go();
    else if (!presenceTimer) presenceTimer = setTimeout(go, 250);
  }

  // -- map view ------------------------------------------------------------------------------------
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  let frameQueued = false;

  function dirty() {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(() => { frameQueued = false; draw(); });
  }

  function fitView() { S.view = { zoom: 1, panX: 0, panY: 0 }; dirty(); }

  function baseTransform() {
    const b = bounds() || { x0: -100, x1: 100, z0: -100, z1: 100 };
    const W = canvas.clientWidth, H = canvas.clientHeight, m = 28;
    const legend = W > 800 ? 190 : 0; // keep the fitted world clear of the legend box
    const k = Math.min((W - 2 * m - legend) / (b.x1 - b.x0), (H - 2 * m) / (b.z1 - b.z0)) * S.view.zoom;
    const cx = (b.x0 + b.x1) / 2, cz = (b.z0 + b.z1) / 2;
    return { k, ox: (W - legend) / 2 - cx * k + S.view.panX, oy: H / 2 + cz * k + S.view.panY };
  }
  function toScreen(x, z) { const t = baseTransform(); return [t.ox + x * t.k, t.oy - z * t.k]; }
  function toWorld(sx, sy) { const t = baseTransform(); return [(sx - t.ox) / t.k, (t.oy - sy) / t.k]; }

  // Distinct colours per member session, in the order this page first saw them (you: blue).
  const PALETTE = ["#ff8c42", "#c77dff", "#2ec4b6", "#ff5d8f", "#f9c74f", "#90be6d", "#4cc9f0", "#f28482"];
  const memberColours = new Map();
  function memberColour(sessionId) {
    if (sessionId === S.sessionId) return "#5aa9ff";
    if (!memberColours.has(sessionId)) memberColours.set(sessionId, PALETTE[memberColours.size % PALETTE.length]);
    return memberColours.get(sessionId);
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#0f1216"; ctx.fillRect(0, 0, W, H);
    const w = S.world, b = bounds();
    $("hint").hidden = !!(w && (b || w.status === "joining"));
    if (!w || !b) return;
    const t = baseTransform();
    const [ax, ay] = toScreen(b.x0, b.z1), [bx, by] = toScreen(b.x1, b.z0);
    // ground (the header's terrain, §6.6), else a flat colour; then the grid
    ctx.fillStyle = "#263226"; ctx.fillRect(ax, ay, bx - ax, by - ay);
    const ground = groundOf(w);
    if (ground) {
      const [gx, gy] = toScreen(-ground.size / 2, ground.size / 2), [hx, hy] = toScreen(ground.size / 2, -ground.size / 2);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(ground.canvas, gx, gy, hx - gx, hy - gy);
    }
    const grid = niceLength(80 / t.k);
    ctx.strokeStyle = "rgba(255,255,255,0.05)"; ctx.lineWidth = 1; ctx.beginPath();
    for (let x = Math.ceil(b.x0 / grid) * grid; x <= b.x1; x += grid) { const [sx] = toScreen(x, 0); ctx.moveTo(sx, ay); ctx.lineTo(sx, by); }
    for (let z = Math.ceil(b.z0 / grid) * grid; z <= b.z1; z += grid) { const [, sy] = toScreen(0, z); ctx.moveTo(ax, sy); ctx.lineTo(bx, sy); }
    ctx.stroke();
    ctx.strokeStyle = "#5d6b80"; ctx.lineWidth = 1.5; ctx.strokeRect(ax, ay, bx - ax, by - ay);

    // footprints: water and paths first, then the rest, landmarks on top by size
    const now = performance.now();
    const layers = [[], [], []];
    for (const i of w.instances.values()) {
      const f = footprint(i);
      const c = colourOf(i, f.p);
      layers[c === WATER ? 0 : c === PATH ? 1 : 2].push([i, f, c]);
    }
    let animating = false;
    const selections = new Map();
    for (const m of S.members.values()) {
      if (m.session_id !== S.sessionId) for (const id of m.selection || []) selections.set(id, memberColour(m.session_id));
    }
    for (const layer of layers) {
      for (const [i, f, c] of layer) {
        const [sx, sy] = toScreen(i.pos[0], i.pos[2]);
        const pw = Math.max(2, f.w * t.k), pd = Math.max(2, f.d * t.k);
        if (sx + pw < 0 || sy + pd < 0 || sx - pw > W || sy - pd > H) continue;
        ctx.save(); ctx.translate(sx, sy); ctx.rotate(yawOf(i.rot));
        ctx.fillStyle = c; ctx.globalAlpha = c === WATER ? 0.85 : 0.92;
        ctx.fillRect(-pw / 2, -pd / 2, pw, pd);
        ctx.globalAlpha = 1;
        const age = S.recent.has(i.id) ? now - S.recent.get(i.id) : Infinity;
        if (age < 900) {
          ctx.strokeStyle = `rgba(255,255,255,${1 - age / 900})`; ctx.lineWidth = 2;
          ctx.strokeRect(-pw / 2 - 1, -pd / 2 - 1, pw + 2, pd + 2); animating = true;
        } else if (S.recent.has(i.id)) S.recent.delete(i.id);
        if (selections.has(i.id)) {
          ctx.strokeStyle = selections.get(i.id); ctx.lineWidth = 2; ctx.setLineDash([4, 3]);
          ctx.strokeRect(-pw / 2 - 3, -pd / 2 - 3, pw + 6, pd + 6); ctx.setLineDash([]);
        }
        if (i.id === S.selected) {
          ctx.strokeStyle = "#ffd84a"; ctx.lineWidth = 2.5;
          ctx.strokeRect(-pw / 2 - 3, -pd / 2 - 3, pw + 6, pd + 6);
        }
        ctx.restore();
      }
    }
    // spawn points
    for (const [x, , z] of spawnPoints()) {
      const [sx, sy] = toScreen(x, z);
      ctx.strokeStyle = SPAWN; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(sx, sy, 7, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(sx - 4, sy); ctx.lineTo(sx + 4, sy); ctx.moveTo(sx, sy - 4); ctx.lineTo(sx, sy + 4); ctx.stroke();
    }
    // other members' cursors
    ctx.font = "12px system-ui, sans-serif";
    for (const m of S.members.values()) {
      if (m.session_id === S.sessionId || !m.cursor) continue;
      const [sx, sy] = toScreen(m.cursor[0], m.cursor[2]);
      const col = memberColour(m.session_id);
      ctx.fillStyle = col; ctx.beginPath(); ctx.moveTo(sx, sy); ctx.lineTo(sx + 12, sy + 5); ctx.lineTo(sx + 5, sy + 12); ctx.fill();
      ctx.fillText(m.display_name || m.user_id, sx + 12, sy + 20);
    }
    // scale bar
    const len = niceLength(120 / t.k);
    ctx.fillStyle = "rgba(15,18,22,0.8)"; ctx.fillRect(8, H - 44, len * t.k + 20, 36);
    ctx.fillStyle = "#e6e9ef"; ctx.fillRect(16, H - 22, len * t.k, 4);
    ctx.fillText(`${len} m`, 16, H - 28);
    if (animating) dirty();
  }

  // -- terrain (docs/protocol.md §6.6) ---------------------------------------------------------
  // The ground is coloured exactly as generator/render.py colours it (the map PNGs), from the
  // same decoded header data: height shade, then path, then water on top.
  function decodeRuns(runs, n) {
    const out = new Uint8Array(n * n);
    let k = 0;
    for (let r = 0; r < runs.length; r++) { if (r % 2) out.fill(1, k, k + runs[r]); k += runs[r]; }
    if (k !== n * n) throw new Error("terrain mask runs do not cover the raster");
    return out;
  }

  // Ground colours (low, high) by the ground a world names in environment_settings.scene.ground;
  // grass otherwise. Same table and arithmetic as generator/render.py (ground_rgb).
  const GROUND_COLOURS = {
    grass: [[110, 140, 90], [170, 190, 120]], dirt: [[110, 95, 70], [150, 130, 95]],
    sand: [[200, 180, 120], [235, 215, 160]], snow: [[205, 210, 220], [250, 250, 255]],
    rock: [[95, 95, 95], [150, 145, 140]], lava: [[60, 40, 35], [110, 70, 50]],
    regolith: [[120, 120, 125], [175, 175, 180]], seabed: [[40, 80, 110], [80, 130, 150]],
    paved: [[120, 120, 118], [160, 160, 155]], metal: [[90, 100, 110], [140, 150, 160]],
  };

  function decodeGround(ter, groundKind) {
    const hm = ter && ter.heightmap, mk = ter && ter.masks;
    if (!hm || typeof hm.data !== "string" || !mk || hm.encoding !== "u16le-base64" || mk.encoding !== "runs") return null;
    const g = hm.resolution, n = mk.resolution;
    const raw = atob(hm.data), view = new DataView(new ArrayBuffer(raw.length));
    for (let k = 0; k < raw.length; k++) view.setUint8(k, raw.charCodeAt(k));
    const h = new Float64Array(g * g); // rows along z (south first), columns along x
    const step = (hm.max - hm.min) / 65535;
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < g * g; k++) {
      h[k] = hm.min + view.getUint16(2 * k, true) * step;
      lo = Math.min(lo, h[k]); hi = Math.max(hi, h[k]);
    }
    const span = Math.max(1e-6, hi - lo);
    const [low, high] = GROUND_COLOURS[groundKind] || GROUND_COLOURS.grass;
    const water = decodeRuns(mk.water, n), path = decodeRuns(mk.path, n);
    const seabed = (ter.features || []).includes("seabed"); // all water: draw the floor
    const near = new Int32Array(n); // nearest heightmap sample of each cell, as render.py picks it
    for (let i = 0; i < n; i++) near[i] = Math.min(g - 1, Math.max(0, Math.floor(i * mk.cell / hm.spacing)));
    const rgb = new Uint8Array(n * n * 3), img = new ImageData(n, n);
    for (let j = 0; j < n; j++) { // j: cell row along z; image rows run north to south
      for (let i = 0; i < n; i++) {
        const c = j * n + i, o = ((n - 1 - j) * n + i) * 3;
        let r, gr, b;
        if (water[c] && !seabed) [r, gr, b] = [50, 100, 190];
        else if (path[c]) [r, gr, b] = [190, 170, 130];
        else {
          const s = Math.min(1, Math.max(0, (h[near[j] * g + near[i]] - lo) / span));
          [r, gr, b] = [0, 1, 2].map((k) => Math.floor(low[k] + (high[k] - low[k]) * s));
        }
        rgb[o] = r; rgb[o + 1] = gr; rgb[o + 2] = b;
        const q = (o / 3) * 4;
        img.data[q] = r; img.data[q + 1] = gr; img.data[q + 2] = b; img.data[q + 3] = 255;
      }
    }
    const canvas = document.createElement("canvas");
    canvas.width = n; canvas.height = n;
    canvas.getContext("2d").putImageData(img, 0, 0);
    return { n, size: ter.size, rgb, canvas };
  }

  function groundOf(w) { // decoded once per header
    const ter = w.header && w.header.terrain;
    if (!ter) return null;
    if (w.groundFor !== ter) {
      w.groundFor = ter;
      const scene = (w.header.environment_settings || {}).scene || {};
      try { w.ground = decodeGround(ter, scene.ground); } catch (e) { w.ground = null; log("cannot draw the terrain: " + e.message, true); }
    }
    return w.ground;
  }

  function niceLength(target) {
    const e = Math.pow(10, Math.floor(Math.log10(Math.max(target, 1e-3))));
    for (const m of [5, 2, 1]) if (m * e <= target) return m * e;
    return e;
  }

  function hitTest(sx, sy) {
    if (!S.world) return null;
    const t = baseTransform();
    let best = null, bestArea = Infinity, nearest = null, nearestD = 8;
    for (const i of S.world.instances.values()) {
      const [cx, cy] = toScreen(i.pos[0], i.pos[2]);
      const f = footprint(i), a = -yawOf(i.rot);
      const dx = sx - cx, dy = sy - cy;
      const lx = dx * Math.cos(a) - dy * Math.sin(a), ly = dx * Math.sin(a) + dy * Math.cos(a);
      const hw = Math.max(2, f.w * t.k) / 2, hd = Math.max(2, f.d * t.k) / 2;
      if (Math.abs(lx) <= hw && Math.abs(ly) <= hd && f.w * f.d < bestArea) { best = i.id; bestArea = f.w * f.d; }
      const d = Math.hypot(dx, dy);
      if (d < nearestD) { nearest = i.id; nearestD = d; }
    }
    return best || nearest;
  }

  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, panX: S.view.panX, panY: S.view.panY, moved: false }; });
  window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    if (drag && (e.buttons & 1)) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (drag.moved) { S.view.panX = drag.panX + dx; S.view.panY = drag.panY + dy; dirty(); }
    }
    if (S.world && bounds()) {
      const [x, z] = toWorld(e.clientX - r.left, e.clientY - r.top);
      sendPresence([Math.round(x * 100) / 100, 0, Math.round(z * 100) / 100]);
    }
  });
  canvas.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const r = canvas.getBoundingClientRect();
    const sx = e.clientX - r.left, sy = e.clientY - r.top;
    canvas.focus();
    if (S.placing && bounds()) {
      const [x, z] = toWorld(sx, sy);
      const sp = spawnPoints()[0];
      const r3 = (v) => Math.round(v * 1000) / 1000;
      edit([{ op: "add", prefab_id: S.placing, pos: clampPos(r3(x), sp ? sp[1] : 0, r3(z)) }]);
      setPlacing(null);
      return;
    }
    select(hitTest(sx, sy));
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const [wx, wz] = toWorld(mx, my);
    S.view.zoom = Math.min(40, Math.max(0.5, S.view.zoom * Math.exp(-e.deltaY * 0.0015)));
    const [nx, ny] = toScreen(wx, wz);
    S.view.panX += mx - nx; S.view.panY += my - ny;
    dirty();
  }, { passive: false });
  canvas.addEventListener("dblclick", fitView);
  window.addEventListener("resize", dirty);
  window.addEventListener("keydown", (e) => {
    if (/INPUT|TEXTAREA|SELECT/.test(document.activeElement && document.activeElement.tagName)) return;
    const step = e.shiftKey ? 5 * STEP : STEP;
    const moves = { ArrowUp: [0, step], ArrowDown: [0, -step], ArrowLeft: [-step, 0], ArrowRight: [step, 0] };
    if (moves[e.key] && S.selected) { e.preventDefault(); moveSelected(...moves[e.key]); }
    else if ((e.key === "Delete" || e.key === "Backspace") && S.selected) { e.preventDefault(); removeSelected(); }
    else if (e.key === "r" || e.key === "R") rotateSelected();
    else if (e.key === "Escape") { setPlacing(null); select(null); }
  });

  // -- panels --------------------------------------------------------------------------------------
  function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

  function log(text, err) {
    const li = document.createElement("li");
    li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    if (err) li.className = "err";
    const ol = $("log");
    ol.prepend(li);
    while (ol.children.length > 60) ol.lastChild.remove();
  }

  let toastTimer = null;
  function toast(text) {
    const el = $("toast"); el.textContent = text; el.hidden = false;
    clearTimeout(toastTimer); toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function setConn(kind, text) { $("conn-dot").className = "dot " + kind; $("conn-text").textContent = text; }

  function setStatus(s) {
    S.status = s;
    document.body.dataset.status = s;
    renderInfo(); renderMembers(); renderEditing(); dirty();
  }

  function fail(text) {
    S.lastError = text;
    toast(text); log(text, true);
    setStatus("error");
  }

  function setUrl(worldId) {
    const path = "/preview/" + encodeURIComponent(worldId);
    if (location.pathname !== path) history.replaceState(null, "", path);
  }

  function renderInfo() {
    const w = S.world;
    $("world-card").hidden = !w;
    renderLegend();
    if (!w) return;
    const h = w.header || {};
    $("world-title").textContent = h.title || w.id;
    $("world-title").title = h.description || "";
    const statusText = { generating: "generating…", done: w.genStatus === "partial" ? "partial" : "complete",
                         joining: "joining…", error: "error" }[w.status] || w.status;
    $("world-meta").innerHTML = [h.world_type && `<b>${esc(h.world_type.replace("_", "-"))}</b>`,
      `<b>${esc(statusText)}</b>`, `seq <b>${w.seq}</b>`, w.role && `you: ${esc(w.role)}`].filter(Boolean).join(" · ");
    const n = w.instances.size, total = Math.max(w.expected, n);
    const pct = w.status === "done" ? 100 : total ? Math.min(100, (100 * n) / total) : 0;
    $("progress-fill").style.width = pct.toFixed(1) + "%";
    const secs = w.timings ? (w.timings.total_ms / 1000).toFixed(2) : ((performance.now() - w.startedAt) / 1000).toFixed(1);
    $("progress-text").innerHTML = w.status === "generating"
      ? `<b>${n}</b>${w.expected ? " / " + w.expected : ""} instances · <b>${w.chunks}</b> chunks · ${secs} s`
      : `<b>${n}</b> instances` + (w.timings ? ` · generated in <b>${w.chunks}</b> chunks, ${secs} s`
                                             : w.status === "done" ? " · from a snapshot" : "");
    const ter = h.terrain;
    $("terrain-text").innerHTML = ter
      ? `terrain ${Math.round(ter.size || 0)} m · water ${Math.round(100 * (ter.water_fraction || 0))}% · ` +
        `paths ${Math.round(100 * (ter.path_fraction || 0))}%` +
        (ter.features && ter.features.length ? ` · ${esc(ter.features.join(", "))}` : "") : "";
    $("share-link").value = `${location.origin}/preview/${w.id}`;
    $("visibility-row").hidden = w.role !== "owner";
  }

  function renderLegend() {
    const counts = {};
    let water = 0, path = 0;
    if (S.world) for (const i of S.world.instances.values()) {
      const c = colourOf(i, S.catalog.get(i.prefab_id));
      if (c === WATER) water++; else if (c === PATH) path++; else counts[i.prefab_type] = (counts[i.prefab_type] || 0) + 1;
    }
    const rows = Object.entries(TYPE_COLOURS).map(([t, c]) => [t, c, counts[t] || 0]);
    rows.push(["water", WATER, water], ["path", PATH, path]);
    $("legend").innerHTML = rows.map(([t, c, n]) =>
      `<li><span class="sw" style="background:${c}"></span>${t}<span class="n">${n}</span></li>`).join("") +
      `<li><span class="sw" style="border:2px solid ${SPAWN};border-radius:50%"></span>spawn<span class="n">${spawnPoints().length}</span></li>`;
  }

  function renderMembers() {
    const has = !!(S.world && S.members.size);
    $("members-card").hidden = !has;
    if (!has) return;
    $("member-count").textContent = S.members.size;
    $("members").innerHTML = [...S.members.values()].map((m) => {
      const you = m.session_id === S.sessionId;
      const doing = m.selection && m.selection.length ? `selected ${m.selection.join(", ")}` : m.cursor ? "looking around" : "";
      return `<li><span class="swatch" style="background:${memberColour(m.session_id)}"></span>` +
        `<span class="name">${esc(m.display_name || m.user_id)}${you ? ' <span class="you">(you)</span>' : ""}` +
        (doing && !you ? `<br><span class="doing">${esc(doing)}</span>` : "") + `</span>` +
        `<span class="role ${esc(m.role)}">${esc(m.role)}</span></li>`;
    }).join("");
  }

  function renderEditing() {
    const show = !!(S.world && S.world.role);
    $("edit-card").hidden = !show;
    const can = canEdit();
    for (const b of document.querySelectorAll("[data-move], #rotate-button, #remove-button")) b.disabled = !can || !S.selected;
    $("add-button").disabled = !can;
    if (show && !can && S.world.role === "viewer") $("edit-text").textContent = "You are watching: viewers cannot edit.";
  }

  function setPlacing(prefabId) {
    S.placing = prefabId;
    $("add-button").classList.toggle("active", !!prefabId);
    $("add-button").textContent = prefabId ? "Click the map…" : "Place";
    canvas.style.cursor = prefabId ? "copy" : "crosshair";
  }

  // -- controls ------------------------------------------------------------------------------------
  function promptMessage(text) {
    $("prompt-text").textContent = text || "";
    $("prompt-text").hidden = !text;
  }
  $("prompt-input").addEventListener("input", () => promptMessage(""));
  $("prompt-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const prompt = $("prompt-input").value.trim();
    if (!prompt) {
      promptMessage("Describe the world first, e.g. “a misty pine forest around a lake”.");
      $("prompt-input").focus();
      return;
    }
    if (!S.sessionId) { promptMessage("Not connected yet: generate once the dot at the top is green."); return; }
    promptMessage("");
    const frame = { type: "prompt", prompt, room: true };
    const seed = $("seed-input").value.trim();
    if (seed) frame.seed = Number(seed);
    if ($("type-select").value) frame.world_type = $("type-select").value;
    if ($("size-select").value) frame.max_instances = Number($("size-select").value);
    S.genRid = request(frame, {});
    S.lastError = null;
    $("prompt-button").disabled = true;
    setStatus("generating");
    log(`prompt: ${prompt}`);
  });
  $("open-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("open-input").value.trim().replace(/^.*\/preview\//, "");
    if (id) join(id);
  });
  for (const b of document.querySelectorAll("[data-move]")) {
    b.addEventListener("click", (e) => {
      const [dx, dz] = b.dataset.move.split(",").map(Number);
      const k = e.shiftKey ? 5 * STEP : STEP;
      moveSelected(dx * k, dz * k);
    });
  }
  $("rotate-button").addEventListener("click", rotateSelected);
  $("remove-button").addEventListener("click", removeSelected);
  $("add-button").addEventListener("click", () => {
    const id = $("prefab-select").value;
    if (!id) { toast("choose a prefab to add first"); return; }
    setPlacing(S.placing ? null : id);
  });
  $("copy-button").addEventListener("click", () => {
    $("share-link").select();
    if (navigator.clipboard) navigator.clipboard.writeText($("share-link").value).catch(() => {});
  });
  async function setVisibility(v) {
    try {
      await api("PUT", `/api/v1/worlds/${encodeURIComponent(S.world.id)}/visibility`, { visibility: v });
      $("visibility-text").textContent = v === "public" ? "anyone with the link can watch" : "only invited users";
      log(`world is now ${v}`);
    } catch (e) { toast(e.message); }
  }
  $("public-button").addEventListener("click", () => setVisibility("public"));
  $("private-button").addEventListener("click", () => setVisibility("private"));
  $("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    localStorage.setItem("iv.token", token);
    location.reload();
  });
  $("guest-button").addEventListener("click", () => {
    for (const key of ["iv.token", "iv.guest", "iv.guest_secret", "iv.name"]) localStorage.removeItem(key);
    location.reload();
  });

  // -- start -------------------------------------------------------------------------------------------
  (async function start() {
    renderLegend(); dirty();
    try {
      await signIn();
    } catch (e) { fail("sign-in failed: " + e.message); return; }
    $("who").textContent = S.displayName || S.userId;
    loadCatalog().catch((e) => log("catalog: " + e.message, true));
    loadWorldTypes().catch((e) => log("world types: " + e.message, true));
    connect();
  })();
})();
