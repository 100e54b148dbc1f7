// The fleet page: rows from /api/fleet, changes over server-sent events, a bot's live view.
"use strict";

const fleet = { rows: new Map(), selected: null, charts: {} };

function rowCells(r) {
  const alert = r.last_alert ? `${r.last_alert.alert ?? "alert"} ${HB.time(r.last_alert.ts)}` : "–";
  return [r.bot_id, r.status, r.block ?? "–", HB.fmt(r.delta, 6), HB.fmt(r.hedge, 6), HB.fmt(r.drift, 6),
    HB.fmt(r.margin, 4), HB.fmt(r.net_pnl, 2), alert, r.problem || ""];
}

function renderCounts(c) {
  const node = document.getElementById("counts");
  node.dataset.evicted = String(c.evicted ?? 0);
  node.dataset.expired = String(c.expired ?? 0);
  node.textContent = (c.evicted || c.expired)
    ? `Showing at most ${c.capacity} bots: ${c.evicted} evicted to make room (least recently heard, ` +
      `no retained state or offline first), ${c.expired} expired after going unheard.`
    : "";
}

function renderRows() {
  const rows = [...fleet.rows.values()].sort((a, b) => (a.bot_id < b.bot_id ? -1 : 1)).map((r) => {
    const tr = HB.row(rowCells(r));
    tr.className = "clickable";
    tr.dataset.bot = r.bot_id;
    tr.dataset.status = r.status;
    tr.cells[1].className = r.status === "online" ? "ok" : "bad";
    tr.cells[9].className = "bad problem";
    tr.addEventListener("click", () => select(r.bot_id));
    return tr;
  });
  HB.replaceRows(document.getElementById("bots"), rows);
}

function renderDetailState(s) {
  if (!s) return;
  HB.setValue("d-delta", s.delta_base, 6); HB.setValue("d-target", s.target_base, 6);
  HB.setValue("d-hedge", s.hedge_base, 6); HB.setValue("d-drift", s.drift_base, 6);
  HB.setValue("d-band", s.band_base, 6); HB.setValue("d-margin", s.margin_ratio, 4);
  HB.setValue("d-liq", s.liquidation_price, 2); HB.setValue("d-funding", s.funding_rate, 8);
  HB.setValue("d-net", s.pnl ? s.pnl.net : null, 2);
}

async function select(botId) {
  fleet.selected = botId;
  const response = await fetch(`/api/bot/${encodeURIComponent(botId)}`);
  if (!response.ok) return;
  const d = await response.json();
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-id").textContent = botId;
  renderDetailState(d.state);
  const h = d.history;
  if (!fleet.charts.delta) {
    fleet.charts.delta = HB.chart(document.getElementById("chart-fleet-delta"), "delta vs hedge (base)", ["delta", "hedge"]);
    fleet.charts.pnl = HB.chart(document.getElementById("chart-fleet-pnl"), "net PnL (quote)", ["net"]);
  }
  const t = h.map((p) => p.t);
  if (fleet.charts.delta) fleet.charts.delta.setData([t, h.map((p) => p.delta), h.map((p) => p.hedge)]);
  if (fleet.charts.pnl) fleet.charts.pnl.setData([t, h.map((p) => p.net)]);
  HB.replaceRows(document.getElementById("d-events"),
    d.events.slice(0, 100).map((e) => HB.row([HB.time(e.ts), e.type, JSON.stringify(e.data)])));
}

function showAck(a) {
  const node = document.getElementById("ack");
  node.textContent = `${a.bot_id ?? ""} ${a.command ?? ""}: ${a.status}${a.reason ? " — " + a.reason : ""}`;
  node.dataset.status = a.status;
  node.className = a.status === "applied" ? "ok" : "bad";
}

async function command(name, extra) {
  if (!fleet.selected) return;
  showAck({ bot_id: fleet.selected, command: name, status: "sending" });
  const body = { bot_id: fleet.selected, command: name, params: {}, ...(extra || {}) };
  const answer = await HB.post("/api/command", body, document.getElementById("token").value);
  showAck({ bot_id: fleet.selected, command: name, ...answer });
}

function wire() {
  const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
  on("f-pause", () => command("pause"));
  on("f-resume", () => command("resume"));
  on("f-rebalance", () => command("rebalance_now"));
  on("f-flatten", () => {
    const typed = document.getElementById("f-confirm").value;
    if (typed !== fleet.selected && typed !== "FLATTEN") {
      showAck({ bot_id: fleet.selected, command: "flatten", status: "not sent", reason: "type the bot id or FLATTEN to confirm" });
      return;
    }
    command("flatten", { confirm_text: typed });
  });
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "ok"; });
  source.addEventListener("error", () => {
    if (!live.dataset.refused) { live.textContent = "reconnecting…"; live.className = "warn"; }
  });
  HB.onRefused(source, live);
  source.addEventListener("status", (m) => {
    const s = JSON.parse(m.data);
    if (s.kind === "bot") {
      fleet.rows.set(s.bot_id, s);
      renderRows();
      if (s.bot_id === fleet.selected) select(s.bot_id);
    } else if (s.kind === "removed") {
      fleet.rows.delete(s.bot_id);
      renderRows();
      renderCounts(s);
    } else if (s.kind === "ack") {
      showAck(s);
    } else if (s.kind === "broker") {
      live.textContent = s.connected ? "live" : "broker unreachable";
      live.className = s.connected ? "ok" : "bad";
    }
  });
}

async function start() {
  document.getElementById("broker").textContent = HB.meta("broker");
  wire();
  const body = await (await fetch("/api/fleet")).json();
  document.getElementById("since").textContent =
    `History is kept in memory only, bounded, since this dashboard started (${HB.time(body.since)} UTC); ` +
    "bots come from the broker's retained status/state and live events.";
  for (const r of body.bots) fleet.rows.set(r.bot_id, r);
  renderRows();
  renderCounts(body);
  connect();
}

start();
