// The bot page's positions table: chain, pool, range and where the price sits in it, amounts,
// delta and fees, all from the state message. Every untrusted string goes through textContent.
"use strict";

// a price to 6 significant digits, never an exponent (tiny or huge prices included)
function fmtPrice(value) {
  if (value === null || value === undefined || value === "") return "–";
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumSignificantDigits: 6 }) : String(value);
}

// a td with its text and, for the tests and copy-paste, the exact wire value in data-value
function cell(text, value, cls) {
  const td = HB.el("td", text, cls);
  td.dataset.value = value === null || value === undefined ? "" : String(value);
  return td;
}

// "0x1234…abcd" with the whole address (V4: the pool id) in the title
function poolCell(pool) {
  const full = pool || "";
  const td = cell(full.length > 14 ? `${full.slice(0, 6)}…${full.slice(-4)}` : (full || "–"), full, "pool");
  if (full) td.title = full;
  return td;
}

// lower – upper with a bar marking where the price sits (clamped to the bar; below/above
// said in words), or "full range" for a V2 position
function rangeCell(p) {
  if (p.price_lower === null || p.price_lower === undefined || p.price_upper === null || p.price_upper === undefined) {
    return cell("full range", "full", "range");
  }
  const td = cell("", `${p.price_lower}–${p.price_upper}`, "range");
  td.dataset.lower = p.price_lower;
  td.dataset.upper = p.price_upper;
  td.dataset.where = p.range_position ?? "";
  const where = Number(p.range_position);
  const known = p.range_position !== null && p.range_position !== undefined && Number.isFinite(where);
  let place = "–";
  if (known) place = where < 0 ? "below" : (where > 1 ? "above" : `${Math.round(where * 100)} %`);
  const text = HB.el("div", `${fmtPrice(p.price_lower)} – ${fmtPrice(p.price_upper)} · ${place}`);
  const bar = HB.el("div", null, "rangebar");
  bar.title = `price ${place === "–" ? "unknown" : place} of the way from ${fmtPrice(p.price_lower)} to ${fmtPrice(p.price_upper)}`;
  if (known) {
    const mark = HB.el("div", null, where < 0 || where > 1 ? "mark out" : "mark");
    mark.style.left = `calc(${(Math.min(1, Math.max(0, where)) * 100).toFixed(2)}% - 2px)`;
    bar.appendChild(mark);
  }
  td.append(text, bar);
  return td;
}

function feesCell(p) {
  const td = cell(`${HB.fmt(p.fees_base, 6)} / ${HB.fmt(p.fees_quote, 2)}`, `${p.fees_base ?? ""}/${p.fees_quote ?? ""}`, "fees");
  td.dataset.base = p.fees_base ?? "";
  td.dataset.quote = p.fees_quote ?? "";
  if (p.kind === "v2") td.title = "V2 fees compound into the pool: they are in the amounts";
  return td;
}

// The positions table: one row per LP position of the state message (the single source).
// ``chain``: the name of positions the state leaves untagged (one chain).
function renderPositions(positions, defaultChain) {
  const rows = (positions || []).map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    const chain = p.chain ?? defaultChain;
    tr.append(
      cell(p.id, p.id, "id"),
      cell(chain ?? "–", chain, "chain"),
      poolCell(p.pool),
      cell(p.kind, p.kind, "kind"),
      rangeCell(p),
      cell(p.in_range ? "in range" : "OUT of range", String(p.in_range), `in-range ${p.in_range ? "ok" : "bad"}`),
      cell(HB.fmt(p.amount_base, 6), p.amount_base, "base"),
      cell(HB.fmt(p.amount_quote, 2), p.amount_quote, "quote"),
      cell(HB.fmt(p.value_quote, 2), p.value_quote, "value"),
      cell(HB.fmt(p.delta_base, 6), p.delta_base, "delta"),
      feesCell(p),
    );
    return tr;
  });
  HB.replaceRows(document.getElementById("positions"), rows);
}
