/** Hand-written SVG charts for the summary: horizontal bars, cumulative distributions, histograms. */

const COLORS = ["#4269d0", "#ef8a3c", "#3ca951", "#ff725c", "#a463f2", "#97bbf5", "#9c6b4e", "#6cc5b0"];
const W = 640;
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

const esc = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function fmt(value) {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 100) return String(Math.round(value));
  if (abs >= 10) return value.toFixed(1).replace(/\.0$/, "");
  if (abs >= 1) return value.toFixed(2).replace(/\.?0+$/, "");
  return value.toPrecision(2);
}

/** Round tick values covering [min, max]. */
function linearTicks(min, max, count = 5) {
  const span = max - min || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(min, max) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(Number(v.toPrecision(12)));
    }
  }
  return ticks;
}

function frame(height, title, body) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" ${FONT}>`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * Horizontal bars, one per row ({label, value, text?}); `marker` draws a dashed vertical line (a target or a
 * baseline) with its label.
 */
export function barChart({ title, unit, bars, marker }) {
  const left = 230;
  const right = W - 70;
  const rowH = 26;
  const top = 36;
  const height = top + bars.length * rowH + 34;
  const max = Math.max(...bars.map((bar) => bar.value), marker?.value ?? 0) * 1.05 || 1;
  const x = (v) => Number((left + (v / max) * (right - left)).toFixed(1));
  const body = [];
  bars.forEach((bar, i) => {
    const y = top + i * rowH;
    body.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(bar.label)}</text>`);
    body.push(`<rect x="${left}" y="${y + 4}" width="${Math.max(1, x(bar.value) - left).toFixed(1)}" height="${rowH - 8}" fill="${COLORS[i % COLORS.length]}"/>`);
    body.push(`<text x="${x(bar.value) + 4}" y="${y + 16}">${esc(bar.text ?? `${fmt(bar.value)} ${unit}`)}</text>`);
  });
  const axisY = top + bars.length * rowH + 4;
  body.push(`<line x1="${left}" y1="${axisY}" x2="${right}" y2="${axisY}" stroke="#999"/>`);
  for (const tick of linearTicks(0, max)) {
    body.push(`<text x="${x(tick)}" y="${axisY + 14}" text-anchor="middle" fill="#555">${fmt(tick)}</text>`);
  }
  body.push(`<text x="${right}" y="${axisY + 28}" text-anchor="end" fill="#555">${esc(unit)}</text>`);
  if (marker) {
    body.push(`<line x1="${x(marker.value)}" y1="${top}" x2="${x(marker.value)}" y2="${axisY}" stroke="#c00" stroke-dasharray="4 3"/>`);
    body.push(`<text x="${x(marker.value) + 3}" y="${top - 4}" fill="#c00">${esc(marker.label)}</text>`);
  }
  return frame(height, title, body);
}

/**
 * Cumulative distributions of several sample sets ({label, samples}) on one plot: x the value (log scale with
 * `logX`), y the share of samples at or below it. `markers` ({value, label}) draw dashed vertical lines.
 */
export function cdfChart({ title, unit, series, logX = false, markers = [] }) {
  const left = 56;
  const right = W - 16;
  const top = 34;
  const bottom = 250;
  const legendH = 18 * series.length;
  const height = bottom + 40 + legendH;
  const all = series.flatMap((s) => s.samples).concat(markers.map((m) => m.value));
  const positive = all.filter((v) => v > 0);
  let min = logX ? Math.min(...positive) : 0;
  let max = Math.max(...all);
  if (!(max > min)) max = min + 1;
  if (logX) {
    min = 10 ** Math.floor(Math.log10(min));
    max = 10 ** Math.ceil(Math.log10(max));
  }
  const x = logX
    ? (v) => left + ((Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * (right - left)
    : (v) => left + ((v - min) / (max - min)) * (right - left);
  const y = (share) => bottom - share * (bottom - top);
  const body = [];
  for (const share of [0, 0.25, 0.5, 0.75, 0.9, 0.99]) {
    body.push(`<line x1="${left}" y1="${y(share).toFixed(1)}" x2="${right}" y2="${y(share).toFixed(1)}" stroke="#eee"/>`);
    body.push(`<text x="${left - 6}" y="${(y(share) + 4).toFixed(1)}" text-anchor="end" fill="#555">${share === 0.99 ? "99%" : `${Math.round(share * 100)}%`}</text>`);
  }
  const ticks = logX ? logTicks(min, max) : linearTicks(min, max);
  for (const tick of ticks) {
    body.push(`<line x1="${x(tick).toFixed(1)}" y1="${bottom}" x2="${x(tick).toFixed(1)}" y2="${bottom + 4}" stroke="#999"/>`);
    body.push(`<text x="${x(tick).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#555">${fmt(tick)}</text>`);
  }
  body.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#999"/>`);
  body.push(`<text x="${right}" y="${bottom + 30}" text-anchor="end" fill="#555">${esc(unit)}${logX ? " (log scale)" : ""}</text>`);
  series.forEach((s, i) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const step = Math.max(1, Math.floor(sorted.length / 400));
    const points = [];
    for (let k = 0; k < sorted.length; k += step) points.push(`${x(sorted[k]).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`);
    if (sorted.length) points.push(`${x(sorted[sorted.length - 1]).toFixed(1)},${y(1).toFixed(1)}`);
    const color = COLORS[i % COLORS.length];
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>`);
    const ly = bottom + 40 + i * 18;
    body.push(`<rect x="${left}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`);
    body.push(`<text x="${left + 20}" y="${ly - 4}">${esc(s.label)} (n=${sorted.length})</text>`);
  });
  for (const marker of markers) {
    body.push(`<line x1="${x(marker.value)}" y1="${top}" x2="${x(marker.value)}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`);
    body.push(`<text x="${x(marker.value) + 3}" y="${top + 10}" fill="#c00">${esc(marker.label)}</text>`);
  }
  return frame(height, title, body);
}

/** A histogram of one sample set with `bins` equal-width bins; `markers` as in {@link cdfChart}. */
export function histogram({ title, unit, samples, bins = 40, markers = [] }) {
  const left = 56;
  const right = W - 16;
  const top = 34;
  const bottom = 230;
  const height = bottom + 40;
  const sorted = [...samples].sort((a, b) => a - b);
  // The top 0.5 % go into the last bin so that one outlier does not squash the rest.
  const hi = Math.max(sorted[Math.max(0, Math.ceil(sorted.length * 0.995) - 1)] ?? 1, ...markers.map((m) => m.value)) || 1;
  const lo = Math.min(0, sorted[0] ?? 0);
  const width = (hi - lo) / bins;
  const counts = new Array(bins).fill(0);
  for (const v of sorted) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
  const maxCount = Math.max(...counts, 1);
  const x = (v) => Number((left + ((v - lo) / (hi - lo)) * (right - left)).toFixed(1));
  const y = (c) => bottom - (c / maxCount) * (bottom - top);
  const body = [];
  counts.forEach((c, i) => {
    if (!c) return;
    const x0 = x(lo + i * width);
    body.push(`<rect x="${x0.toFixed(1)}" y="${y(c).toFixed(1)}" width="${Math.max(1, x(lo + (i + 1) * width) - x0 - 1).toFixed(1)}" height="${(bottom - y(c)).toFixed(1)}" fill="${COLORS[0]}"/>`);
  });
  body.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#999"/>`);
  for (const tick of linearTicks(lo, hi)) {
    body.push(`<text x="${x(tick)}" y="${bottom + 16}" text-anchor="middle" fill="#555">${fmt(tick)}</text>`);
  }
  for (const tick of linearTicks(0, maxCount, 4)) {
    body.push(`<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#555">${fmt(tick)}</text>`);
  }
  body.push(`<text x="${right}" y="${bottom + 30}" text-anchor="end" fill="#555">${esc(unit)} (n=${sorted.length}; the top 0.5 % in the last bin)</text>`);
  for (const marker of markers) {
    body.push(`<line x1="${x(marker.value)}" y1="${top}" x2="${x(marker.value)}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`);
    body.push(`<text x="${x(marker.value) + 3}" y="${top + 10}" fill="#c00">${esc(marker.label)}</text>`);
  }
  return frame(height, title, body);
}
