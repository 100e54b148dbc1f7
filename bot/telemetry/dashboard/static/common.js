// Shared by the bot and fleet pages. Every untrusted string goes through textContent.
"use strict";

const HB = {
  meta(name) {
    const node = document.querySelector(`meta[name="${name}"]`);
    return node ? node.getAttribute("content") : "";
  },
  el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  },
  fmt(value, places) {
    if (value === null || value === undefined || value === "") return "–";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return n.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  },
  setValue(id, value, places) {
    const node = document.getElementById(id);
    if (!node) return;
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    node.textContent = places === undefined ? (value ?? "–") : HB.fmt(value, places);
  },
  time(ts) {
    if (!ts) return "–";
    return new Date(Number(ts) * 1000).toISOString().replace("T", " ").slice(0, 19);
  },
  row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) tr.appendChild(HB.el("td", cell));
    return tr;
  },
  // A live page beyond the server's limit gets one "refused" event: say why, not "reconnecting".
  onRefused(source, live) {
    source.addEventListener("refused", (m) => {
      const reason = JSON.parse(m.data).reason;
      live.textContent = `not live: ${reason}`;
      live.className = "bad";
      live.dataset.refused = "1";
    });
    source.addEventListener("open", () => { delete live.dataset.refused; });
  },
  replaceRows(tbody, rows) {
    tbody.replaceChildren(...rows);
  },
  async post(url, body, token) {
    const headers = {
      "Content-Type": "application/json",
      "X-CSRF-Token": HB.meta("csrf"),
    };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(url, {
      method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
    });
    let answer;
    try { answer = await response.json(); } catch (_e) { answer = { status: "error", reason: `HTTP ${response.status}` }; }
    answer.http = response.status;
    return answer;
  },
  // a y axis label that fits its axis: plain up to 10,000, then 12.3K / 4.5M / 1.2T, from
  // 1e15 (and below 1e-4) in exponent form
  axisLabel(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e15 || a < 1e-4) return v.toExponential(1);
    if (a >= 1e4) return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(v);
    return String(Number(v.toPrecision(4)));
  },
  // ``yRange(plot)``: the y scale's [min, max] (default: uPlot's, from the data)
  chart(container, title, series, yLabel, yRange) {
    if (typeof uPlot === "undefined") {
      container.replaceChildren(HB.el("p", "charts unavailable: uPlot not installed (make setup)", "muted"));
      return null;
    }
    const colors = ["#2a6fdb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d", "#343a40", "#868e96"];
    const height = 220;
    const widthNow = () => Math.floor(container.getBoundingClientRect().width);
    const opts = {
      title, width: widthNow() || 420, height,
      scales: { x: { time: true }, ...(yRange ? { y: { range: (u) => yRange(u) } } : {}) },
      axes: [{}, {
        label: yLabel || "",
        values: (_u, splits) => splits.map(HB.axisLabel),
        // wide enough for its longest label (7 px a character at the axis font), never cut
        size: (_u, values) => Math.max(50, 16 + 7 * Math.max(0, ...(values || []).map((v) => String(v).length))),
      }],
      series: [{}, ...series.map((name, i) => ({ label: name, stroke: colors[i % colors.length], width: 1.5 }))],
    };
    const data = [[], ...series.map(() => [])];
    const plot = new uPlot(opts, data, container);
    // the chart follows its card's width (window resized, grid re-flowed): never wider
    new ResizeObserver(() => {
      const width = widthNow();
      if (width > 0 && Math.abs(width - plot.width) > 1) plot.setSize({ width, height });
    }).observe(container);
    return plot;
  },
};
