// The benchmark's outputs: a table on stdout, and an SVG chart of throughput and latency.
const n0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const n2 = (value) => value.toFixed(2);
const ms = (value) => `${value.toFixed(1)} ms`;
const range = (s, format) => `${format(s.median)} (${format(s.min)}–${format(s.max)})`;

/** Rows of [scenario, result, target, verdict]; the verdict is empty where there is no target. */
export function rows(results) {
  const out = [];
  const check = (value, ok) => (Number.isNaN(value) ? '—' : ok ? 'met' : 'NOT met');
  const { writes, bulk, latency, latency1, fanout, catchup, burst, rest } = results.scenarios;
  if (writes) {
    const t = writes.tps;
    out.push([`writes, 8 writers (${writes.driver})`, `A ${n0.format(t.A.median)} · B ${n0.format(t.B.median)} · C ${n0.format(t.C.median)} · D ${n0.format(t.D.median)} tps`, '', '']);
    const r = writes.ratios;
    out.push(['  B/A capture on, app stopped', range(r['B/A'], n2), '≥ 0.85', check(r['B/A'].median, r['B/A'].median >= 0.85)]);
    out.push(['  C/A capture on, app draining', range(r['C/A'], n2), '≥ 0.75', check(r['C/A'].median, r['C/A'].median >= 0.75)]);
    out.push(['  C/D rowcast vs pg_notify trigger', range(r['C/D'], n2), '≥ 2.3', check(r['C/D'].median, r['C/D'].median >= 2.3)]);
  }
  if (bulk) {
    out.push([`bulk, one UPDATE of ${n0.format(bulk.rows)} rows, app stopped`, `capture off ${range(bulk.offMs, ms)} · on ${range(bulk.onMs, ms)}`, '', '']);
    out.push(['  on/off ratio (per round)', range(bulk.ratio, n2), '≤ 2.0', check(bulk.ratio.median, bulk.ratio.median <= 2)]);
  }
  for (const measured of [latency, latency1].filter(Boolean)) {
    for (const [key, run] of Object.entries(measured.runs)) {
      const [target, rate] = key.split('@');
      const goal = target === 'rowcast' && rate === '1000' && measured === latency;
      out.push([
        `latency ${target}, ${measured.clients} client${measured.clients === 1 ? '' : 's'}, ${rate}/s`,
        `p50 ${range(run.p50, ms)} · p99 ${range(run.p99, ms)} · lost ${run.lost}${run.droppedSlow ? ` (${run.droppedSlow} clients dropped as slow)` : ''}`,
        goal ? 'p50 ≤ 5 ms, p99 ≤ 25 ms' : target === 'relay' ? '(the floor)' : '',
        goal ? check(run.p50.median, run.p50.median <= 5 && run.p99.median <= 25) : '',
      ]);
    }
  }
  if (fanout) {
    const run = fanout;
    out.push([
      `fan-out, ${n0.format(run.clients)} clients, ${run.rate}/s for ${run.seconds} s`,
      `${n0.format(run.deliveredPerSecond)} notifications/s · p99 ${ms(run.p99)} · lost ${run.lost}${run.droppedSlow ? ` (${run.droppedSlow} clients dropped as slow)` : ''}`,
      '≥ 100,000/s, p99 ≤ 250 ms, 0 lost',
      check(run.deliveredPerSecond, run.deliveredPerSecond >= 100_000 && run.p99 <= 250 && run.lost === 0),
    ]);
  }
  if (catchup) {
    out.push([`catch-up, ${n0.format(catchup.behind)} behind`, `${n0.format(catchup.perSecond)} events/s (${catchup.seconds.toFixed(1)} s)`, '≥ 20,000/s', check(catchup.perSecond, catchup.perSecond >= 20_000)]);
  }
  if (burst) {
    out.push([
      `burst, one transaction of ${n0.format(burst.rows)} rows`,
      `all in the log after ${burst.secondsToLog.toFixed(1)} s, at the client after ${burst.secondsToClient.toFixed(1)} s · app peak RSS ${n0.format(burst.peakRssMb)} MB`,
      'RSS ≤ 512 MB',
      check(burst.peakRssMb, burst.peakRssMb <= 512),
    ]);
  }
  if (rest) {
    out.push([`REST POST items, ${rest.connections} connections`, `${n0.format(rest.requestsPerSecond)} req/s · p50 ${rest.p50} ms · p99 ${rest.p99} ms · non-2xx ${rest.non2xx}`, 'report', '']);
  }
  return out;
}

export function table(results) {
  const all = [['scenario', 'result: median (min–max of rounds)', 'target', ''], ...rows(results)];
  const widths = all[0].map((_, column) => Math.max(...all.map((row) => row[column].length)));
  const line = (row) => row.map((cell, column) => cell.padEnd(widths[column])).join(' | ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...all.slice(1).map(line)].join('\n');
}

/** Two panels: write throughput (A–D, median with min–max whiskers) and latency (p50, p99). */
export function svg(results) {
  const { writes, latency } = results.scenarios;
  const parts = [];
  const W = 920;
  const H = 420;
  const text = (x, y, content, attrs = '') => `<text x="${x}" y="${y}" ${attrs}>${escape(content)}</text>`;
  parts.push(text(20, 26, `rowcast benchmark — ${results.mode} run, ${results.date.slice(0, 16).replace('T', ' ')} UTC`, 'font-size="15" font-weight="600"'));
  parts.push(text(20, 44, results.machine, 'font-size="11" fill="#555"'));
  /** Bars with min–max whiskers; `log`: heights on a log scale (values spanning decades). */
  const panel = (x0, title, bars, unit, log = false) => {
    const top = 80;
    const height = 240;
    const max = Math.max(...bars.map((bar) => bar.max ?? bar.value)) * 1.1 || 1;
    const scale = log ? (v) => Math.log10(1 + v) / Math.log10(1 + max) : (v) => v / max;
    const width = 400 / bars.length;
    parts.push(text(x0, top - 14, title, 'font-size="13" font-weight="600"'));
    parts.push(`<line x1="${x0}" y1="${top + height}" x2="${x0 + 410}" y2="${top + height}" stroke="#888"/>`);
    bars.forEach((bar, i) => {
      const x = x0 + i * width + 6;
      const h = scale(bar.value) * height;
      parts.push(`<rect x="${x}" y="${top + height - h}" width="${width - 12}" height="${h}" fill="${bar.color}"><title>${escape(`${bar.label}: ${bar.value.toFixed(1)} ${unit}`)}</title></rect>`);
      if (bar.min !== undefined) {
        const cx = x + (width - 12) / 2;
        const y = (v) => top + height - scale(v) * height;
        parts.push(`<line x1="${cx}" y1="${y(bar.min)}" x2="${cx}" y2="${y(bar.max)}" stroke="#222"/>`);
      }
      parts.push(text(x + (width - 12) / 2, top + height - h - 6, bar.value >= 100 ? n0.format(bar.value) : bar.value.toFixed(1), 'font-size="11" text-anchor="middle"'));
      for (const [j, line] of bar.label.split('\n').entries()) {
        parts.push(text(x + (width - 12) / 2, top + height + 16 + j * 13, line, 'font-size="11" text-anchor="middle"'));
      }
    });
  };
  if (writes) {
    const colors = { A: '#8a8f98', B: '#2457c5', C: '#1d7a46', D: '#b45309' };
    const labels = { A: 'A capture off', B: 'B capture on,\napp stopped', C: 'C rowcast\ndraining', D: 'D pg_notify\ntrigger' };
    panel(20, `Write throughput, 8 writers (tps, higher is better)`, Object.entries(writes.tps).map(([key, s]) => ({ label: labels[key], value: s.median, min: s.min, max: s.max, color: colors[key] })), 'tps');
  }
  if (latency) {
    const bars = [];
    for (const [key, run] of Object.entries(latency.runs)) {
      const [target, rate] = key.split('@');
      const [dark, light] = target === 'rowcast' ? ['#1d7a46', '#5cb07f'] : ['#8a8f98', '#b8bcc4'];
      const label = `${target} ${rate}/s`;
      bars.push({ label: `${target}\n${rate}/s\np50`, value: run.p50.median, min: run.p50.min, max: run.p50.max, color: dark });
      bars.push({ label: `${target}\n${rate}/s\np99`, value: run.p99.median, min: run.p99.min, max: run.p99.max, color: light });
    }
    panel(480, `Commit → client latency, ${latency.clients} clients (ms, log scale)`, bars, 'ms', true);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" role="img" aria-label="rowcast benchmark chart">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}
