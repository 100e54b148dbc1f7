// The bot page: live state over server-sent events, history from /api/history, commands.
"use strict";

const BOT_ID = HB.meta("bot-id");
const PNL_PARTS = [
  ["lp_hold", "lp_hold_pnl_quote", "LP hold", 1], ["il", "il_quote", "impermanent loss", 1],
  ["lp_fees", "lp_fees_quote", "LP fees", 1], ["hedge", "hedge_pnl_quote", "hedge", 1],
  ["funding", "funding_quote", "funding", 1], ["trading_fees", "trading_fees_quote", "− trading fees", -1],
  ["slippage", "slippage_quote", "− slippage", -1], ["gas", "gas_quote", "− gas", -1],
  ["net", "net_pnl_quote", "net", 1],
];
// the log's filters; the server's list (/api/state event_kinds) replaces this at start
let KINDS = ["decision", "order", "fill", "funding", "alert", "command", "trading_state", "range", "position", "error"];
const charts = {};
const series = {};
const page = { chain: null, lastAlert: null, events: [] };

// the filter of an event type, as the server's history.kind_of: range.* and position.* share one
function kindOf(type) {
  const head = type.split(".")[0];
  return head === "range" || head === "position" ? head : type;
}

// the venue's own next funding time from the state (never guessed from this browser's clock)
function nextFunding(ts) {
  return ts ? HB.time(ts) + " UTC" : "–";
}

function renderPnl(pnl) {
  const rows = PNL_PARTS.map(([short, , label]) => {
    const tr = HB.row([label, HB.fmt(pnl ? pnl[short] : null, 2)]);
    tr.cells[1].id = `pnl-${short}`;
    tr.cells[1].dataset.value = pnl ? String(pnl[short] ?? "") : "";
    return tr;
  });
  HB.replaceRows(document.getElementById("pnl"), rows);
}

function renderState(s) {
  if (!s) return;
  HB.setValue("block", s.block);
  HB.setValue("price", s.price, 4);
  HB.setValue("mark", s.mark_price, 4);
  HB.setValue("delta", s.delta_base, 6);
  HB.setValue("target", s.target_base, 6);
  HB.setValue("hedge", s.hedge_base, 6);
  HB.setValue("drift", s.drift_base, 6);
  HB.setValue("band", s.band_base, 6);
  const inside = Math.abs(Number(s.drift_base)) <= Number(s.band_base);
  const driftState = document.getElementById("drift-state");
  driftState.textContent = inside ? "within band" : "outside band";
  driftState.className = `value ${inside ? "ok" : "warn"}`;
  HB.setValue("margin", s.margin_ratio, 4);
  HB.setValue("liq-price", s.liquidation_price, 2);
  HB.setValue("liq-distance", s.liquidation_distance_pct, 2);
  HB.setValue("funding-rate", s.funding_rate, 8);
  const next = document.getElementById("next-funding");
  next.textContent = nextFunding(s.next_funding_ts);
  next.dataset.value = String(s.next_funding_ts ?? "");
  HB.setValue("net-pnl", s.pnl ? s.pnl.net : null, 2);
  const trading = document.getElementById("trading");
  trading.textContent = s.flattening ? "flattening" : (s.paused ? "paused" : "trading");
  trading.className = `value ${s.paused ? "warn" : "ok"}`;
  renderPositions(s.positions, page.chain);
  renderPnl(s.pnl);
  appendLive(s);
}

function renderKill(k) {
  const node = document.getElementById("kill-mode");
  node.textContent = k.mode === "off" ? "off" : `${k.mode} (${k.source ?? "?"}) ${k.reason ?? ""}`;
  node.dataset.value = k.mode;
  node.className = `value ${k.mode === "off" ? "ok" : "bad"}`;
}

function showAck(a) {
  const node = document.getElementById("ack");
  node.textContent = `${a.command ?? a.mode ?? "command"}: ${a.status}${a.reason ? " — " + a.reason : ""}`;
  node.dataset.status = a.status;
  node.className = a.status === "applied" ? "ok" : (a.status === "queued" ? "warn" : "bad");
}

// ---- charts ---------------------------------------------------------------------------
function makeCharts() {
  const defs = {
    price: ["pool price (quote/base)", ["price"]],
    delta: ["delta vs hedge (base)", ["delta", "target", "hedge"]],
    drift: ["drift and band (base)", ["drift", "+band", "−band"]],
    pnl: ["cumulative PnL parts (quote)", PNL_PARTS.map((p) => p[2])],
  };
  // the drift chart's y axis spans the drift alone when the band is far beyond it (charts.js)
  const driftRange = () => {
    const limit = CHARTS.driftScale(series.drift).limit;
    return [-limit, limit];
  };
  for (const [key, [title, names]] of Object.entries(defs)) {
    const yRange = key === "drift" ? driftRange : undefined;
    charts[key] = HB.chart(document.getElementById(`chart-${key}`), title, names, "", yRange);
    series[key] = [[], ...names.map(() => [])];
  }
}

// the chart's columns, bounded to the selected range and CHARTS.MAX_POINTS (charts.js)
function setChart(key, columns) {
  series[key] = CHARTS.bounded(columns, document.getElementById("range").value);
  if (charts[key]) charts[key].setData(series[key]);
  if (key === "drift") renderDriftNote();
}

function renderDriftNote() {
  const scale = CHARTS.driftScale(series.drift);
  const note = document.getElementById("drift-note");
  note.dataset.clipped = scale.clipped ? "1" : "0";
  note.textContent = scale.clipped
    ? `drift and band: the band (up to ±${HB.axisLabel(scale.band)}) is over ${CHARTS.BAND_CLIP}× the ` +
      `largest drift shown, so the axis spans the drift (±${HB.axisLabel(scale.limit)}) and the band ` +
      "lies beyond it (its value is in the legend)"
    : "";
}

function appendLive(s) {
  const t = s.published_at || Date.now() / 1000;
  const add = (key, values) => {
    const cols = series[key];
    if (!cols) return;
    CHARTS.insert(cols, t, values.map((v) => (v === null || v === undefined ? null : Number(v))));
    setChart(key, cols);
  };
  add("price", [s.price]);
  add("delta", [s.delta_base, s.target_base, s.hedge_base]);
  add("drift", [s.drift_base, s.band_base, -Number(s.band_base)]);
  // as the history draws them: costs (paid, positive on the wire) as negative contributions
  add("pnl", PNL_PARTS.map(([short, , , sign]) => (s.pnl && s.pnl[short] != null ? sign * Number(s.pnl[short]) : null)));
}

async function loadHistory() {
  const range = document.getElementById("range").value;
  const h = await (await fetch(`/api/history?range=${encodeURIComponent(range)}`)).json();
  const p = h.positions;
  const decisions = document.getElementById("decisions");
  decisions.dataset.value = String(h.decisions.count);
  const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
  decisions.textContent = `${plural(h.decisions.count, "decision")} (${plural(h.decisions.rows, "row")})`;
  setChart("price", [h.pnl.t.slice(), h.pnl.price.slice()]);
  setChart("delta", [p.t.slice(), p.delta.slice(), p.target.slice(), p.hedge.slice()]);
  setChart("drift", [p.t.slice(), p.drift.slice(), p.band.slice(), p.band.map((b) => -b)]);
  setChart("pnl", [h.pnl.t.slice(), ...PNL_PARTS.map(([, long, , sign]) => (h.pnl[long] || []).map((v) => sign * v))]);
}

// ---- event log ------------------------------------------------------------------------
function selectedKinds() {
  return new Set(KINDS.filter((k) => document.getElementById(`filter-${k}`).checked));
}

function renderEvents() {
  const kinds = selectedKinds();
  const rows = page.events.filter((e) => kinds.has(kindOf(e.type))).slice(0, 300)
    .map((e) => HB.row([HB.time(e.ts), e.type, JSON.stringify(e.data)]));
  HB.replaceRows(document.getElementById("events"), rows);
}

function addEvent(e) {
  page.events.unshift(e);
  if (page.events.length > 1000) page.events.length = 1000;
  if (e.type === "alert") {
    page.lastAlert = e;
    const node = document.getElementById("last-alert");
    node.textContent = `${e.data.alert ?? "alert"} ${HB.time(e.ts)}`;
  }
  renderEvents();
}

async function loadEvents() {
  const body = await (await fetch("/api/events")).json();
  page.events = body.events;
  const alert = page.events.find((e) => e.type === "alert");
  if (alert) document.getElementById("last-alert").textContent = `${alert.data.alert ?? "alert"} ${HB.time(alert.ts)}`;
  renderEvents();
}

function makeFilters() {
  const box = document.getElementById("event-filters");
  for (const kind of KINDS) {
    const label = HB.el("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.id = `filter-${kind}`; input.checked = true;
    input.addEventListener("change", renderEvents);
    label.append(input, document.createTextNode(` ${kind} `));
    box.appendChild(label);
  }
}

// ---- commands -------------------------------------------------------------------------
function token() { return document.getElementById("token").value; }

async function command(name, params, extra) {
  showAck({ command: name, status: "sending" });
  const answer = await HB.post("/api/command", { command: name, params: params || {}, ...(extra || {}) }, token());
  showAck({ command: name, ...answer });
}

async function kill(mode) {
  const body = { mode };
  if (mode === "flatten") body.confirm_text = document.getElementById("flatten-confirm").value;
  const answer = await HB.post("/api/killswitch", body, token());
  showAck({ ...answer, command: `kill switch ${mode}` });
  if (answer.kill_switch) renderKill(answer.kill_switch);
}

function wireCommands() {
  const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
  on("cmd-pause", () => command("pause"));
  on("cmd-resume", () => command("resume"));
  on("cmd-rebalance", () => command("rebalance_now"));
  on("cmd-ratio", () => command("set_hedge_ratio", { value: document.getElementById("ratio").value }));
  on("cmd-threshold", () => {
    const params = {};
    const base = document.getElementById("threshold-base").value;
    const fraction = document.getElementById("threshold-fraction").value;
    if (base) params.base = base;
    if (fraction) params.fraction = fraction;
    command("set_threshold", params);
  });
  on("cmd-flatten", () => {
    const typed = document.getElementById("flatten-confirm").value;
    if (typed !== BOT_ID && typed !== "FLATTEN") {
      showAck({ command: "flatten", status: "not sent", reason: "type the bot id or FLATTEN to confirm" });
      return;
    }
    command("flatten", {}, { confirm_text: typed });
  });
  on("kill-freeze", () => kill("freeze"));
  on("kill-flatten", () => kill("flatten"));
  on("kill-clear", () => kill("clear"));
  on("plan-load", loadPlan);
}

// ---- planner ----------------------------------------------------------------------------
// A chart over a numeric x axis (price, ratio); ``pointsOnly`` series are markers, no line.
function xyChart(container, title, xLabel, names, pointsOnly) {
  if (typeof uPlot === "undefined") {
    container.appendChild(HB.el("p", "charts unavailable: uPlot not installed (make setup)", "muted"));
    return null;
  }
  const colors = ["#2a6fdb", "#d9480f", "#2b8a3e", "#862e9c"];
  const box = HB.el("div");
  box.className = "plan-chart";
  container.appendChild(box);
  const width = Math.floor(container.getBoundingClientRect().width) || 420;
  const series = names.map((name, i) => (pointsOnly && pointsOnly[i]
    ? { label: name, stroke: colors[i % colors.length], paths: () => null, points: { show: true, size: 9 } }
    : { label: name, stroke: colors[i % colors.length], width: 1.5, points: { show: true, size: 4 } }));
  return new uPlot({ title, width, height: 200, scales: { x: { time: false } },
    axes: [{ label: xLabel }, {}], series: [{ label: xLabel }, ...series] }, [[], ...names.map(() => [])], box);
}

function planSummary(body) {
  const f = body.forecast;
  const fund = body.funding;
  return HB.el("p", `block ${body.block} · price ${HB.fmt(body.price, 2)} · delta ${HB.fmt(body.delta_base, 4)} ` +
    `· value ${HB.fmt(body.value_quote, 2)} — policy over ${f.days} days at σ ${f.sigma_annual} (${f.sigma_source}): ` +
    `${f.expected_rebalances} rebalances, cost ${f.expected_cost_quote}, funding ${f.expected_funding_quote}; ` +
    `funding ${fund.rate} per ${fund.interval_s} s (${fund.source}). ${f.model}`);
}

function planHedgeTable(body) {
  const table = HB.el("table");
  table.id = "plan-hedges";
  const head = HB.el("thead");
  head.appendChild(HB.row(["ratio", "hedge (base)", "margin", "liq. price", "distance %", "funding/day"]));
  const tbody = HB.el("tbody");
  tbody.append(...body.hedges.map((h) => HB.row([h.ratio, HB.fmt(h.hedge_base, 4), HB.fmt(h.margin_quote, 2),
    HB.fmt(h.liquidation_price, 2), HB.fmt(h.liquidation_distance_pct, 2), HB.fmt(h.funding_per_day_quote, 2)])));
  table.append(head, tbody);
  return table;
}

function renderPlan(box, body) {
  box.replaceChildren(planSummary(body));
  const grid = body.grid;
  const prices = grid.map((r) => Number(r.price));
  const deltas = grid.map((r) => Number(r.delta_base));
  const values = grid.map((r) => Number(r.value_quote));
  const edgeDelta = grid.map((r, i) => (r.edge ? deltas[i] : null));
  const edgeValue = grid.map((r, i) => (r.edge ? values[i] : null));
  const edges = grid.filter((r) => r.edge).map((r) => `${r.edge} at ${HB.fmt(r.price, 2)}`);
  const delta = xyChart(box, "delta across the price grid (base)", "price", ["delta", "range edge"], [false, true]);
  if (delta) delta.setData([prices, deltas, edgeDelta]);
  const value = xyChart(box, "value across the price grid (quote)", "price", ["value", "range edge"], [false, true]);
  if (value) value.setData([prices, values, edgeValue]);
  if (edges.length) box.appendChild(HB.el("p", `range edges: ${edges.join("; ")}`, "muted"));
  const hedges = xyChart(box, "hedge at each ratio (base) and funding per day (quote)", "hedge ratio",
    ["hedge", "funding/day"]);
  if (hedges) {
    hedges.setData([body.hedges.map((h) => Number(h.ratio)), body.hedges.map((h) => Number(h.hedge_base)),
      body.hedges.map((h) => Number(h.funding_per_day_quote))]);
  }
  box.appendChild(planHedgeTable(body));
  box.dataset.charts = String(box.querySelectorAll(".plan-chart").length);
}

async function loadPlan() {
  const box = document.getElementById("plan");
  box.textContent = "computing…";
  const response = await fetch("/api/plan");
  const body = await response.json();
  if (!response.ok) { box.textContent = body.error || `HTTP ${response.status}`; return; }
  renderPlan(box, body);
}

// ---- live feed ------------------------------------------------------------------------
function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "ok"; });
  source.addEventListener("error", () => {
    if (!live.dataset.refused) { live.textContent = "reconnecting…"; live.className = "warn"; }
  });
  HB.onRefused(source, live);
  source.addEventListener("state", (m) => renderState(JSON.parse(m.data)));
  source.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
  source.addEventListener("status", (m) => {
    const s = JSON.parse(m.data);
    if (s.kind === "kill_switch") renderKill(s);
    if (s.kind === "ack") showAck(s);
  });
}

async function start() {
  document.getElementById("bot-id").textContent = BOT_ID;
  document.title = `hedgebot · ${BOT_ID}`;
  document.getElementById("commands-note").textContent = HB.meta("commands") === "on"
    ? "Commands need the operator token (HEDGEBOT_DASHBOARD_TOKEN); acks appear below."
    : "Commands are disabled: start the bot with HEDGEBOT_DASHBOARD_TOKEN set.";
  const first = await (await fetch("/api/state")).json();
  if (Array.isArray(first.event_kinds)) KINDS = first.event_kinds;
  makeFilters();
  makeCharts();
  wireCommands();
  document.getElementById("range").addEventListener("change", loadHistory);
  page.chain = first.chain ?? null;
  renderKill(first.kill_switch);
  await loadHistory();
  renderState(first.state);
  await loadEvents();
  connect();
}

start();
