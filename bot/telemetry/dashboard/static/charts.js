// The bot page's history charts: how many live points they keep and how the drift chart's
// y axis is scaled. Pure functions of the series; bot.js calls them.
"use strict";

const CHARTS = {
  // seconds of each range of the page's selector (all: no span, only the cap)
  RANGE_S: { "1h": 3600, "6h": 21600, "24h": 86400, all: null },
  // points a chart keeps (the server's history gives at most 2,000): past it the series is
  // halved (every other point, the newest kept), so a page left open for weeks keeps a
  // bounded series that still spans its whole range
  MAX_POINTS: 4000,
  // drift is what the drift/band chart is for: a band more than BAND_CLIP × the largest
  // |drift| in view (set_threshold base=1e30: never rebalance) would flatten the drift to a
  // line at 0 and widen the labels past the axis, so the axis then spans the drift alone and
  // a note says where the band is (the legend still shows its value); a band within that
  // multiple is drawn whole
  BAND_CLIP: 20,

  // ``columns`` ([t, ...values], t in unix s ascending) without the points older than the
  // range before the newest point, and at most MAX_POINTS long
  bounded(columns, range) {
    const span = CHARTS.RANGE_S[range] ?? null;
    const t = columns[0];
    let start = 0;
    if (span !== null && t.length) {
      const oldest = t[t.length - 1] - span;
      while (start < t.length && !(t[start] >= oldest)) start++;
    }
    let out = start ? columns.map((c) => c.slice(start)) : columns;
    while (out[0].length > CHARTS.MAX_POINTS) {
      const keep = (out[0].length - 1) % 2; // the newest point's parity
      out = out.map((c) => c.filter((_, i) => i % 2 === keep));
    }
    return out;
  },

  // add one point (t, ...values) to ``columns`` in time order: a live state can be stamped
  // (published_at) before the store's record of the same tick that the history ends with,
  // and uPlot draws its x values in array order (a point out of order is a line going back)
  insert(columns, t, values) {
    const times = columns[0];
    let at = times.length;
    while (at > 0 && times[at - 1] > t) at--;
    times.splice(at, 0, t);
    values.forEach((v, i) => columns[i + 1].splice(at, 0, v));
  },

  // the drift chart's y scale from its columns [t, drift, +band, -band]:
  // {limit (the axis spans ±limit), clipped (the band is beyond it), band (its largest |value|)}
  driftScale(columns) {
    const largest = (values) => values.reduce(
      (m, v) => (v !== null && v !== undefined && Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
    const drift = largest(columns[1] || []);
    const band = largest(columns[2] || []);
    const clipped = drift > 0 && band > CHARTS.BAND_CLIP * drift;
    const span = clipped ? drift : Math.max(drift, band);
    return { limit: (span || 1) * 1.1, clipped, band };
  },
};
