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
const page = { positionsInfo: {}, lastAlert: null, events: [] };

// the filter of an event type, as the server's history.kind_of: range.* and position.* share one
function kindOf(type) {
  const head = type.split(".")[0];
  return head === "range" || head === "position" ? head : type;
}

// the venue's own next funding time from the state (never guessed from this browser's clock)
function nextFunding(ts) {
  return ts ? HB.time(ts) + " UTC" : "–";
}

function renderPositions(positions) {
  const rows = (positions || []).map((p) => {
    const info = page.positionsInfo[p.id] || {};
    const tr = HB.row([p.id, info.chain ?? "–", info.pool ?? "–", p.kind, p.in_range ? "in range" : "OUT of range",
      HB.fmt(p.amount_base, 6), HB.fmt(p.amount_quote, 2), HB.fmt(p.value_quote, 2), HB.fmt(p.delta_base, 6),
      info.fees ?? "–"]);
    tr.cells[4].className = p.in_range ? "ok" : "bad";
    return tr;
  });
  HB.replaceRows(document.getElementById("positions"), rows);
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
  renderPositions(s.positions);
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
  for (const [key, [title, names]] of Object.entries(defs)) {
    charts[key] = HB.chart(document.getElementById(`chart-${key}`), title, names);
    series[key] = [[], ...names.map(() => [])];
  }
}

function setChart(key, columns) {
  series[key] = columns;
  if (charts[key]) charts[key].setData(columns);
}

function appendLive(s) {
  const t = s.published_at || Date.now() / 1000;
  const add = (key, values) => {
    const cols = series[key];
    if (!cols) return;
    cols[0].push(t);
    values.forEach((v, i) => cols[i + 1].push(v === null || v === undefined ? null : Number(v)));
    if (charts[key]) charts[key].setData(cols);
  };
  add("price", [s.price]);
  add("delta", [s.delta_base, s.target_base, s.hedge_base]);
  add("drift", [s.drift_base, s.band_base, -Number(s.band_base)]);
  add("pnl", PNL_PARTS.map(([short]) => (s.pnl ? s.pnl[short] : null)));
}

async function loadHistory() {
  const range = document.getElementById("range").value;
  const h = await (await fetch(`/api/history?range=${encodeURIComponent(range)}`)).json();
  const p = h.positions;
  const decisions = document.getElementById("decisions");
  decisions.dataset.value = String(h.decisions.count);
  decisions.textContent = `${h.decisions.count.toLocaleString()} decisions (${h.decisions.rows.toLocaleString()} rows)`;
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
  showAck({ mode: `kill switch ${mode}`, ...answer });
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

// ---- planner --------------------------------------------------------------------------
function planRows(value, prefix, rows) {
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) planRows(v, prefix ? `${prefix}.${k}` : k, rows);
  } else {
    rows.push(HB.row([prefix, value]));
  }
  return rows;
}

async function loadPlan() {
  const box = document.getElementById("plan");
  box.textContent = "computing…";
  const response = await fetch("/api/plan");
  const body = await response.json();
  if (!response.ok) { box.textContent = body.error || `HTTP ${response.status}`; return; }
  const table = HB.el("table");
  const tbody = HB.el("tbody");
  tbody.append(...planRows(body, "", []).slice(0, 2000));
  table.appendChild(tbody);
  box.replaceChildren(table);
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
  page.positionsInfo = first.positions_info || {};
  renderKill(first.kill_switch);
  await loadHistory();
  renderState(first.state);
  await loadEvents();
  connect();
}

start();
