"""Bulk fill: jittered-grid slots, so the count is known after one vectorised check.

Scatter that has no exact count (the palette, "trees" without a number) is the bulk of a world.
Running it through the retrying Poisson engine costs ~0.1 ms per call; instead the world is cut
into square slots as wide as the largest footprint in a size class, every slot is checked
against the flag raster at once, and each chosen slot receives one instance jittered so that its
footprint (at any yaw) stays inside the slot. Slots are disjoint, so instances cannot overlap
each other, and a free slot cannot overlap anything placed earlier. The result is stratified
(blue-noise-like) sampling; clusters come from weighting slots by distance to random centres.
"""
from __future__ import annotations

import math

import numpy as np

from . import cache
from .placement import PlacementEngine
from .terrain import OCC, PATH, RES, WATER, Terrain

ALL_FLAGS = WATER | PATH | OCC | RES

RADIUS_CLASSES = (1.5, 3.0, 6.0, float("inf"))
# slots of the bigger classes (trees, boulders) are this much wider than their largest
# footprint: room for each instance to move inside its slot, so a dense wood does not stand
# in rows and columns (the slot raster), and a little natural thinning
LOOSE = 1.45
LOOSE_FROM = 1.5  # m: the footprint radius from which slots are loose
THIN = 0.8  # ... and such a class takes at most this share of its free slots: glades, not rows
# points a fill gathers round (x, z, sigma): buildings, the water's edge, the scene's centre
Anchors = tuple[np.ndarray, np.ndarray, float]
NEAR = 1e-3  # an anchored slot's least Gaussian weight: within ~3.7 sigma of an anchor point


Mode = tuple[bool, Anchors | None]  # (clustered, anchor points) of a member


def fill(eng: PlacementEngine, rng: np.random.Generator, members: list[tuple[int, int]],
         group: int, scale_range: tuple[float, float] = (0.0, 1.0),
         clustered: bool = False, final: bool = False, anchors: Anchors | None = None,
         modes: list[Mode] | None = None, mode_of: dict[int, int] | None = None,
         thin: bool = True) -> int:
    """Place up to sum(counts) instances of (prefab number, count) members; returns placed.

    ``thin``: big classes have loose slots and take at most THIN of them (not for a counted
    kind: its number must fit; it is too few to show the slot raster anyway).

    ``anchors``: slots are weighted by closeness to these points instead of random centres
    (``clustered``), so props stand round the buildings and reeds along the shore. ``modes``
    with ``mode_of`` (prefab -> index into modes) give each member its own rule in one pass:
    a size class tests its free slots once and each rule takes its slots from them in turn.

    ``final``: nothing is placed after this fill, so its last size class need not mark the
    occupancy raster (its slots are disjoint from each other by construction).
    """
    size_class, water = _size_classes(eng)
    placed = 0
    carry = {False: 0, True: 0}  # per surface: what ground could not take never floods the lake
    buckets: dict[tuple[int, bool], list[tuple[int, int]]] = {}
    for p, n in members:
        if n > 0:
            buckets.setdefault((size_class[p], water[p]), []).append((p, n))
    keys = sorted(buckets, reverse=True)  # big first, small fill the gaps
    for n, key in enumerate(keys):
        # what a bigger class could not place (no whole free slot left) moves down to this
        # one, shared in proportion to its members' counts: a crowded world gets more of the
        # smaller things instead of falling short of what was asked for
        group_members = _with_extra(buckets[key], carry[key[1]])
        want = min(sum(c for _, c in group_members), eng.room)
        got = _fill_class(eng, rng, group_members, key[1], group, scale_range, clustered,
                          mark=not (final and n == len(keys) - 1), anchors=anchors,
                          modes=modes, mode_of=mode_of, thin=thin)
        placed += got
        carry[key[1]] = want - got
    return placed


def _with_extra(members: list[tuple[int, int]], extra: int) -> list[tuple[int, int]]:
    """members with ``extra`` more instances shared in proportion to their counts (largest
    counts take the remainder; integer arithmetic, so deterministic)."""
    if extra <= 0:
        return members
    total = sum(c for _, c in members)
    add = [extra * c // total for _, c in members]
    for i in sorted(range(len(members)), key=lambda i: -members[i][1])[:extra - sum(add)]:
        add[i] += 1
    return [(p, c + a) for (p, c), a in zip(members, add, strict=True)]


def _size_classes(eng: PlacementEngine) -> tuple[list[int], list[bool]]:
    """Per prefab: its RADIUS_CLASSES index and whether it lives on water (cached per catalog)."""
    memo = cache.table(eng.cat, "static")
    hit = memo.get("fill_classes")
    if hit is None:
        hit = memo["fill_classes"] = (
            [next(k for k, lim in enumerate(RADIUS_CLASSES) if r < lim)
             for r in eng.tab.radius_list],
            [s == "water" for s in eng.cat.surface])
    return hit


def _blocks_free(block: np.ndarray, mask: int, k: int, need: int) -> np.ndarray:
    """(mi, mj) bools: is every cell of each k x k block clear of ``mask`` (and has ``need``)?

    An OR over k consecutive cells along each axis, then every k-th result: strided ORs for
    small k, and for larger k OR-doubling (windows of 1, 2, 4, ... cells: log2(k) contiguous
    passes instead of k strided ones). Both are far faster than reshape(...).any(axis=(1, 3)).
    """
    if mask | need == ALL_FLAGS and not need:
        b = block  # every flag bit is bad: no masking pass needed (b is only read)
    else:
        b = block & np.uint8(mask | need)
        if need:
            b ^= np.uint8(need)  # a cell without the needed bit now has it set: "bad"
    # rows first: whole contiguous rows OR together fast; the k-times smaller result then
    # takes the strided pass along the rows
    free: np.ndarray = _window_or(_window_or(b, k, axis=0), k, axis=1) == 0
    return free


def _window_or(b: np.ndarray, k: int, axis: int) -> np.ndarray:
    """OR of each run of k cells along ``axis`` (runs start at 0, k, 2k, ...; b's extent along
    the axis is a multiple of k)."""
    def sl(start: int | None, stop: int | None, step: int | None = None) -> tuple[slice, ...]:
        return (slice(None), slice(start, stop, step)) if axis else (slice(start, stop, step),)

    if k < 6:
        r = b[sl(0, None, k)].copy()
        for q in range(1, k):
            r |= b[sl(q, None, k)]
        return r
    r = b.copy()
    w = 1
    while 2 * w <= k:  # r[j] = OR of b[j .. j + 2w - 1]
        r[sl(None, -w)] |= r[sl(w, None)]
        w *= 2
    m = b.shape[axis]
    out = r[sl(0, m, k)]
    return out | r[sl(k - w, m, k)] if w < k else out.copy()


def _fill_class(eng: PlacementEngine, rng: np.random.Generator, members: list[tuple[int, int]],
                water: bool, group: int, scale_range: tuple[float, float],
                clustered: bool, mark: bool = True, anchors: Anchors | None = None,
                modes: list[Mode] | None = None, mode_of: dict[int, int] | None = None,
                thin: bool = True) -> int:
    cat, ter, tab = eng.cat, eng.ter, eng.tab
    pids = [p for p, _ in members]
    counts = [n for _, n in members]
    total = min(sum(counts), eng.room)
    if total <= 0:
        return 0
    rmax = max(tab.radius_list[p] for p in pids)
    # slots are k x k raster cells, aligned to the raster, so "is this slot free?" is a few
    # strided ORs over the flag raster instead of a gather per slot
    loose = thin and rmax >= LOOSE_FROM
    k = math.ceil((2 * rmax * (LOOSE if loose else 1.0) + 0.05) / ter.cell)
    o0, o1 = rng.integers(0, k, 2).tolist()
    mi, mj = (ter.n - o0) // k, (ter.n - o1) // k
    if mi <= 0 or mj <= 0:
        return 0
    mask = OCC | RES | PATH | (0 if water or ter.seabed else WATER)
    free = np.flatnonzero(_blocks_free(ter.flags[o0:o0 + mi * k, o1:o1 + mj * k], mask, k,
                                       WATER if water else 0))
    if free.size == 0:
        return 0
    size = k * ter.cell
    h = size / 2
    if modes is None or mode_of is None:
        modes, mode_of = [(clustered, anchors)], dict.fromkeys(pids, 0)
    by_mode: dict[int, list[tuple[int, int]]] = {}
    for p, n in members:
        by_mode.setdefault(mode_of[p], []).append((p, n))
    taken = np.zeros(free.size, dtype=bool)
    picks: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    room = min(total, math.ceil(THIN * free.size)) if loose else total
    for mode in sorted(by_mode):
        sub = by_mode[mode]
        want = min(sum(n for _, n in sub), room)
        if want <= 0:
            continue
        order = _slot_order(rng, ter, free, mj, (o0, o1, k, mi), h, rmax, want, *modes[mode])
        if picks:
            order = order[~taken[order]]
        order = order[:want]
        taken[order] = True
        picks.append(order)
        kinds.append(rng.permutation(np.repeat([p for p, _ in sub], [n for _, n in sub]))
                     [:order.size])
        room -= order.size
    if not picks:
        return 0
    slots = np.concatenate(picks)
    m = slots.size
    # centres of the chosen slots only
    qi, qj = np.divmod(free[slots], mj)
    x = -ter.half + (o0 + qi * k) * ter.cell + h
    z = -ter.half + (o1 + qj * k) * ter.cell + h
    pidx = np.concatenate(kinds)
    lo, hi = scale_range
    u = rng.uniform(lo, hi, m)
    scale = np.round(cat.scale_min[pidx] + tab.scale_span[pidx] * u, 2)
    slack = np.maximum(0.0, h - tab.half_diag[pidx] * scale - 0.01)
    px = x + rng.uniform(-1, 1, m) * slack
    pz = z + rng.uniform(-1, 1, m) * slack
    yaw = rng.integers(0, 360, m)
    building = eng.is_building[pidx]
    if building.any():
        yaw = np.where(building, (np.round(yaw / 90.0) * 90) % 360, yaw).astype(np.int64)
    if mark:
        solid = cat.solid[pidx]
        if solid.any():
            _mark_in_slots(eng, (o0, o1, k, mi, mj), qi, qj, np.flatnonzero(solid),
                           eng._cells(pidx, px, pz, yaw, scale))
    eng.cols.add(pidx, px, pz, yaw, scale, group, False)
    eng.count += m
    return m


def _slot_order(rng: np.random.Generator, ter: Terrain, free: np.ndarray, mj: int,
                grid: tuple[int, int, int, int], h: float, rmax: float, total: int,
                clustered: bool, anchors: Anchors | None) -> np.ndarray:
    """Free slots (indices into ``free``) in the order a rule takes them: near its anchor
    points only (weighted by closeness), near random cluster centres, or at random."""
    o0, o1, k, mi = grid
    if not clustered and anchors is None:
        return rng.permutation(free.size)
    qi, qj = np.divmod(free, mj)
    if anchors is not None:
        cx, cz, sigma = anchors
        sigma = max(sigma, 2 * rmax)
    else:
        nc = int(min(24, max(1, total // 8)))
        cx = rng.uniform(-ter.half, ter.half, nc)
        cz = rng.uniform(-ter.half, ter.half, nc)
        sigma = max(6.0, 4 * rmax)
    # a Gaussian is separable: exp(-(dx2+dz2)) = exp(-dx2) * exp(-dz2), so exponentials
    # are taken per slot row and column (mi + mj) x nc, not per slot (free x nc)
    rows = -ter.half + (o0 + np.arange(mi) * k) * ter.cell + h
    cols = -ter.half + (o1 + np.arange(mj) * k) * ter.cell + h
    gx = np.exp(-(rows[:, None] - cx) ** 2 / (2 * sigma * sigma))
    gz = np.exp(-(cols[:, None] - cz) ** 2 / (2 * sigma * sigma))
    # per slot of the whole grid (mi x mj x nc multiply-adds, no (free x nc) temporaries),
    # then read at the free slots; einsum's own loop, not BLAS: the same sums everywhere
    w = np.einsum("ik,jk->ij", gx.astype(np.float32), gz.astype(np.float32),
                  optimize=False)[qi, qj]
    if anchors is not None:  # only near the anchors (~3.7 sigma): the rest stays open
        near = np.flatnonzero(w > NEAR)
        out: np.ndarray = near[np.argsort(rng.exponential(size=near.size) / w[near],
                                          kind="stable")]
        return out
    w += 0.02
    order: np.ndarray = np.argsort(rng.exponential(size=free.size) / w, kind="stable")
    return order


def _mark_in_slots(eng: PlacementEngine, grid: tuple[int, int, int, int, int], qi: np.ndarray,
                   qj: np.ndarray, sel: np.ndarray, cells: tuple[np.ndarray, ...]) -> None:
    """Mark the covering cells of instances ``sel`` as occupied, each within its own slot.

    The same cells as ``eng.mark``: every footprint lies inside its k x k slot (the jitter
    keeps it 1 cm clear of the edges), so a (k x k) mask per slot, written through a block
    view of the raster, replaces a table of flat cell indices (8 bytes a cell)."""
    o0, o1, k, mi, mj = grid
    _, _, i0, i1, j0, j1, _ = cells
    qi, qj = qi[sel], qj[sel]
    a0, a1 = i0[sel] - (o0 + qi * k), i1[sel] - (o0 + qi * k)
    b0, b1 = j0[sel] - (o1 + qj * k), j1[sel] - (o1 + qj * k)
    if min(int(a0.min()), int(b0.min())) < 0 or max(int(a1.max()), int(b1.max())) >= k:
        eng.mark(sel, cells)  # not expected: the general path, cell by cell
        return
    ar = np.arange(k)
    rows = (ar >= a0[:, None]) & (ar <= a1[:, None])
    cols = (ar >= b0[:, None]) & (ar <= b1[:, None])
    blocks = eng.ter.flags[o0:o0 + mi * k, o1:o1 + mj * k].reshape(mi, k, mj, k)  # a view
    blocks[qi, :, qj, :] |= (rows[:, :, None] & cols[:, None, :]).view(np.uint8) * np.uint8(OCC)
