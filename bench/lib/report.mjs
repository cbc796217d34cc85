// The benchmark's outputs: a table on stdout, and an SVG chart of throughput and latency.
import { median } from './stats.mjs';
const n0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const n2 = (value) => value.toFixed(2);
const n1 = (value) => value.toFixed(1);
/** The median, then the min–max over rounds (left out when they print the same, as with one round). */
const range = (s, format, unit = '') => {
  const [median, min, max] = [s.median, s.min, s.max].map(format);
  return `${median}${min === max ? '' : ` (${min}–${max})`}${unit}`;
};

/**
 * 'met', or 'NOT met' naming the figures that miss when there are several; '—' when a figure is
 * missing (e.g. no latency because nothing was received). `figures`: [name, value, ok(value)].
 */
function verdict(...figures) {
  if (figures.some(([, value]) => typeof value !== 'number' || Number.isNaN(value))) return '—';
  const missed = figures.filter(([, value, ok]) => !ok(value)).map(([name]) => name);
  if (missed.length === 0) return 'met';
  return figures.length > 1 ? `NOT met (${missed.join(', ')})` : 'NOT met';
}

/** Clients dropped before the run ended, with Socket.IO's reasons summed over the rounds. */
function dropped(run) {
  const reasons = {};
  for (const round of run.disconnects) for (const [reason, n] of Object.entries(round)) reasons[reason] = (reasons[reason] ?? 0) + n;
  if (run.droppedSlow) reasons['told SLOW_CONSUMER'] = run.droppedSlow;
  const list = Object.entries(reasons).map(([reason, n]) => `${n} ${reason}`);
  return `${run.dropped} dropped${list.length ? ` (${list.join(', ')})` : ''}`;
}

/** CPU seconds per second while writing, medians over rounds: the server's core (app or relay, PostgreSQL) and the clients'. */
function cpu(run) {
  if (!run.cpu?.length) return ''; // results from before it was measured
  const median = (key) => {
    const values = run.cpu.map((shares) => shares[key]).filter(Number.isFinite).sort((a, b) => a - b);
    return values.length ? n2(values[Math.floor((values.length - 1) / 2)]) : '?';
  };
  return ` · CPU s/s while writing: server ${median('app')} (waiting ${median('appWaitingForCpu')}) + PostgreSQL ${median('postgres')}, clients ${median('bench')}`;
}

const delivery = (run) => `lost ${n0.format(run.lost)} · ${dropped(run)}${cpu(run)}`;
const delivered = (run) =>
  `${run.writtenPerSecond ? `written ${range(run.writtenPerSecond, n0.format, '/s')}, ` : ''}${range(run.deliveredPerSecond, n0.format, '/s')} delivered`;
const latencies = (run) => `p50 ${range(run.p50, n1, ' ms')} · p99 ${range(run.p99, n1, ' ms')}`;
const times = (value) => `×${n2(value)}`;

/** Rows of [scenario, result, target, verdict]; target and verdict are empty where there is no target. */
export function rows(results) {
  const out = [];
  const { writes, bulk, latency, latency1, fanout, ceiling, catchup, burst, rest, sinks } = results.scenarios;
  if (writes) {
    const t = writes.tps;
    out.push([`writes, 8 writers (${writes.driver})`, `A ${n0.format(t.A.median)} · B ${n0.format(t.B.median)} · C ${n0.format(t.C.median)} · D ${n0.format(t.D.median)} tps`, '', '']);
    const r = writes.ratios;
    const ratio = (label, key, target, ok) => out.push([`  ${key} ${label}`, range(r[key], n2), target, verdict([key, r[key].median, ok])]);
    ratio('capture on, app stopped ÷ capture off', 'B/A', '≥ 0.85', (v) => v >= 0.85);
    ratio('capture on, app draining ÷ capture off', 'C/A', '≥ 0.75', (v) => v >= 0.75);
    ratio('rowcast draining ÷ pg_notify trigger', 'C/D', '≥ 1.25', (v) => v >= 1.25);
  }
  if (bulk) {
    out.push([`bulk, one UPDATE of ${n0.format(bulk.rows)} rows, app stopped`, `capture off ${range(bulk.offMs, n1, ' ms')} · on ${range(bulk.onMs, n1, ' ms')}`, '', '']);
    out.push(['  on/off ratio (per round)', range(bulk.ratio, n2), '≤ 2.0', verdict(['ratio', bulk.ratio.median, (v) => v <= 2])]);
    if (bulk.leanRatio) {
      out.push([
        '  on without the old row (keep_old false)/off',
        `${range(bulk.leanRatio, n2)} (${range(bulk.leanMs, n1, ' ms')})`,
        '≤ 2.0',
        verdict(['ratio', bulk.leanRatio.median, (v) => v <= 2]),
      ]);
    }
  }
  // Latency: rowcast and its floor, the relay, at each rate; the targets apply to rowcast.
  for (const measured of [latency1, latency].filter(Boolean)) {
    const one = measured.clients === 1;
    const rates = [...new Set(Object.keys(measured.runs).map((key) => key.split('@')[1]))];
    for (const rate of rates) {
      const mine = measured.runs[`rowcast@${rate}`];
      const relay = measured.runs[`relay@${rate}`];
      const title = `latency, ${measured.clients} client${one ? '' : 's'}, ${rate}/s: rowcast`;
      // The targets: one client at each rate; 100 clients at 1,000/s, also as ratios to the relay below.
      const goal = one
        ? ['p50 ≤ 1.5 ms, p99 ≤ 5 ms', verdict(['p50', mine.p50.median, (v) => v <= 1.5], ['p99', mine.p99.median, (v) => v <= 5])]
        : rate === '1000'
          ? ['p50 ≤ 5 ms, p99 ≤ 25 ms, 0 lost, 0 dropped',
             verdict(['p50', mine.p50.median, (v) => v <= 5], ['p99', mine.p99.median, (v) => v <= 25], ['lost', mine.lost, (v) => v === 0], ['dropped', mine.dropped, (v) => v === 0])]
          : ['', ''];
      out.push([title, `${latencies(mine)} · ${delivered(mine)} · ${delivery(mine)}`, ...goal]);
      if (!relay) continue;
      out.push(['  relay, same run (the floor)', `${latencies(relay)} · ${delivered(relay)} · ${delivery(relay)}`, '', '']);
      if (!one && rate === '1000') {
        const p50 = mine.p50.median / relay.p50.median;
        const p99 = mine.p99.median / relay.p99.median;
        // The relay's NOTIFY can hold its writer below the rate: then it was timed under less load.
        const load = mine.deliveredPerSecond.median / relay.deliveredPerSecond.median;
        out.push(['  rowcast ÷ relay (medians)', `p50 ${times(p50)} · p99 ${times(p99)}, delivering ${times(load)} as much`, 'each ≤ 2', verdict(['p50', p50, (v) => v <= 2], ['p99', p99, (v) => v <= 2])]);
      }
    }
  }
  if (fanout) {
    const mine = fanout.runs[`rowcast@${fanout.rate}`];
    const relay = fanout.runs[`relay@${fanout.rate}`];
    const result = (run) => `${range(run.deliveredPerSecond, n0.format, '/s')} · ${latencies(run)} · ${delivery(run)}`;
    out.push([`fan-out, ${n0.format(fanout.clients)} clients, ${fanout.rate}/s for ${fanout.seconds} s: rowcast`, result(mine), '0 lost', verdict(['lost', mine.lost, (v) => v === 0])]);
    out.push(['  relay, same run (the floor)', result(relay), '', '']);
    const rate = mine.deliveredPerSecond.median / relay.deliveredPerSecond.median;
    const p99 = mine.p99.median / relay.p99.median;
    out.push(['  rowcast ÷ relay (medians)', `delivered/s ${times(rate)} · p99 ${times(p99)}`, 'delivered/s ≥ 0.95, p99 ≤ 2',
      verdict(['delivered/s', rate, (v) => v >= 0.95], ['p99', p99, (v) => v <= 2])]);
  }
  if (ceiling) {
    for (const shape of ceiling.shapes) {
      out.push([
        `clients' ceiling, ${n0.format(shape.clients)} clients, no database`,
        `${shape.sentPerSecond ? `sent ${n0.format(shape.sentPerSecond)}/s, ` : ''}took ${n0.format(shape.receivedPerSecond)}/s of ${n0.format(shape.offeredPerSecond)}/s asked · ${n1(shape.behindAtEndSeconds)} s behind at the end · lost ${n0.format(shape.lost)} · ${shape.dropped} dropped · CPU s/s: emitter ${n2(shape.cpu.emitter)}, clients ${n2(shape.cpu.clients)}`,
        'report',
        '',
      ]);
    }
  }
  if (catchup) {
    out.push([`catch-up, ${n0.format(catchup.behind)} behind`, `${n0.format(catchup.perSecond)} events/s (${catchup.seconds.toFixed(1)} s)${catchup.cpu ? ` · CPU s/s: app ${n2(catchup.cpu.app)} + PostgreSQL ${n2(catchup.cpu.postgres)}, client ${n2(catchup.cpu.client)}` : ''}`, '≥ 60,000/s', verdict(['rate', catchup.perSecond, (v) => v >= 60_000])]);
  }
  if (burst) {
    out.push([
      `burst, one transaction of ${n0.format(burst.rows)} rows`,
      `all in the log after ${burst.secondsToLog.toFixed(1)} s, at the client after ${burst.secondsToClient.toFixed(1)} s · app peak RSS ${n0.format(burst.peakRssMb)} MB`,
      'in the log ≤ 3 s, RSS ≤ 256 MB',
      verdict(['log', burst.secondsToLog, (v) => v <= 3], ['RSS', burst.peakRssMb, (v) => v <= 256]),
    ]);
  }
  if (rest) {
    out.push([`REST POST items, ${rest.connections} connections`, `${n0.format(rest.requestsPerSecond)} req/s · p50 ${rest.p50} ms · p99 ${rest.p99} ms · non-2xx ${rest.non2xx}`, 'report', '']);
  }
  if (sinks) out.push(...sinkRows(sinks));
  if (results.scenarios.scale) out.push(...scaleRows(results.scenarios.scale));
  if (results.scenarios.consumers) out.push(...consumerRows(results.scenarios.consumers));
  if (results.scenarios.backfill) out.push(...backfillRows(results.scenarios.backfill));
  return out;
}

/** Pull consumers (issue 20): throughput by order and loops beside the hand-written queue, wake-up, key-ordered scaling. */
function consumerRows(c) {
  const out = [];
  const shares = (run) => `CPU s/s: server ${n2(run.cpu.app)} (waiting ${n2(run.cpu.appWaitingForCpu)}) + PostgreSQL ${n2(run.cpu.postgres)}, clients ${n2(run.cpu.clients)}`;
  for (const [key, run] of Object.entries(c.throughput)) {
    const [order, mode] = key.split('@');
    const [loops, carried] = mode.split('+');
    const queue = c.queue[`queue@${mode}`];
    out.push([
      `consumers: receive 100 + ${carried ? 'ack carried by the next receive' : 'ack'}, order ${order}, ${loops} loop${loops === '1' ? '' : 's'}`,
      `${range(run.perSecond, n0.format, '/s')} · ${shares(run)}${queue ? ` · ×${n2(run.perSecond.median / queue.perSecond.median)} the queue` : ''}`,
      '≥ 30,000/s',
      verdict(['rate', run.perSecond.median, (v) => v >= 30_000]),
    ]);
  }
  for (const [key, run] of Object.entries(c.queue)) {
    const [loops, carried] = key.split('@')[1].split('+');
    out.push([`  hand-written SKIP LOCKED queue, ${loops} loop${loops === '1' ? '' : 's'}${carried ? ', acks carried' : ''} (the baseline)`, `${range(run.perSecond, n0.format, '/s')} · ${shares(run)}`, '', '']);
  }
  const { wake, scaling } = c;
  out.push([
    `consumers: long-poll wake-up, commit → receive answers (${wake.samples} samples)`,
    `p50 ${n1(wake.p50)} · p99 ${n1(wake.p99)} ms · commit → its batch p50 ${n1(wake.commitToBatch.p50)} ms · a receive finding nothing p50 ${n1(wake.emptyLook.p50)} ms`,
    'p50 ≤ 10 ms',
    verdict(['p50', wake.p50, (v) => v <= 10]),
  ]);
  const [many, one] = scaling.ratio.workers;
  out.push([
    `consumers: order key, ${n0.format(scaling.keys)} rows, ${scaling.workMs} ms a message: ${many} bare receive 1 → ack loops ÷ ${one}`,
    `×${range(scaling.ratio, n2)} · ${range(scaling.perSecond[many], n0.format, '/s')} vs ${range(scaling.perSecond[one], n0.format, '/s')}`,
    '≥ 12×',
    verdict(['ratio', scaling.ratio.median, (v) => v >= 12]),
  ]);
  const { library } = scaling;
  out.push([
    `consumers: the same with the client library's worker (consume), concurrency ${many} ÷ ${one}`,
    `×${range(library.ratio, n2)} · ${range(library.perSecond[many], n0.format, '/s')} vs ${range(library.perSecond[one], n0.format, '/s')} · with ${many}, ${shares({ cpu: { ...library.cpu, clients: library.cpu.bench } })}`,
    '≥ 12×',
    verdict(['ratio', library.ratio.median, (v) => v >= 12]),
  ]);
  return out;
}

/** Backfills (issue 19): the rate into the log, 4 tables at once, writers and live latency during one against without. */
function backfillRows(b) {
  const out = [];
  const checked = (ok) => (ok ? 'reads = rows, in the log' : 'CHECK FAILED (see the JSON)');
  const chunks = (c) => `chunk size settled ${n0.format(c.sizeSettled)} (p50 ${n0.format(c.sizeP50)}), chunk transaction p50 ${n1(c.msP50)} · p99 ${n1(c.msP99)} ms`;
  const r = b.rate;
  const first = r.rounds[0];
  out.push([
    `backfill: ${n0.format(b.rows)} rows of one table into the log`,
    `${range(r.perSecond, n0.format, ' rows/s')} · runner alone ${range(r.runnerPerSecond, n0.format, '/s')} · ${chunks(first.chunks)} · ${checked(r.ok)}`,
    '≥ 25,000/s (goal ≥ 60,000)',
    verdict(['rate', r.perSecond.median, (v) => v >= 25_000], ['check', r.ok ? 1 : 0, (v) => v === 1]),
  ]);
  const p = b.parallel;
  out.push([
    `backfill: ${p.tables} tables × ${n0.format(p.tableRows)} rows at once`,
    `${n0.format(p.perSecond)} rows/s in total (${n1(p.seconds)} s) · ${chunks(p.chunks)} · ${checked(p.check.ok)}`,
    'report',
    verdict(['check', p.check.ok ? 1 : 0, (v) => v === 1]),
  ]);
  const w = b.writers;
  if (w.skipped) out.push(['backfill: writers during ÷ without', w.skipped, '≥ 0.8', '—']);
  else {
    out.push([
      `backfill: writers (8 pgbench, UPDATE/INSERT on the table and another), during ÷ without`,
      `${range(w.ratio, n2)} (${n0.format(w.tps.during.median)} vs ${n0.format(w.tps.alone.median)} tps; backfill meanwhile ${n0.format(median(w.backfills.map((x) => x.perSecond)))} rows/s)`,
      '≥ 0.8',
      verdict(['ratio', w.ratio.median, (v) => v >= 0.8]),
    ]);
  }
  const l = b.latency;
  out.push([
    `backfill: live p99, ${l.rate}/s to 1 client, during − without`,
    `+${range(l.p99Above, n1, ' ms')} (p99 ${n1(l.during.p99.median)} vs ${n1(l.alone.p99.median)} ms; p50 ${n1(l.during.p50.median)} vs ${n1(l.alone.p50.median)}) · lost ${l.lost}`,
    '≤ +20 ms',
    verdict(['p99', l.p99Above.median, (v) => v <= 20]),
  ]);
  return out;
}

/** 200k, 2M: a log size as the scale rows name it. */
const short = (n) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : String(n));

/** The scale scenario: one row per figure, its value at each log size side by side, so what grows shows. */
function scaleRows(scale) {
  const sized = (format) => scale.atSize.map((at) => `${short(at.size)}: ${format(at)}`).join(' · ');
  const ms = ({ p50, p99, calls }) => `${n1(p50)} / ${n1(p99)} ms${calls < 30 ? ` (${calls} call${calls === 1 ? '' : 's'})` : ''}`;
  const page = (read) => (read.status === 400 ? 'n/a (400)' : read.status ? `error ${read.status}` : ms(read));
  const out = [];
  const first = scale.atSize[0];
  out.push([
    `scale: fill to ${scale.atSize.map((at) => short(at.size)).join(', ')} (app draining)`,
    sized((at) => `${n0.format(at.notifications)} in the log, +${n0.format(at.fill.written)} in ${n1(at.fill.seconds)} s (${n0.format(at.fill.perSecond)}/s)`),
    'report',
    '',
  ]);
  out.push(['  the index caught up with the log (LogIndexer), after the fill', sized((at) => (at.indexLag === undefined ? '-' : `${n1(at.indexLag)} s`)), 'report', '']);
  out.push(['  bytes per notification (journal + batches + index)', sized((at) => `${n0.format(at.bytes.perNotification)} B`), 'report', '']);
  out.push(['  /health p50 / p99', sized((at) => ms(at.health)), 'report', '']);
  for (const name of Object.keys(first.pages)) {
    const read = first.pages[name];
    out.push([`  GET /notifications?${read.label} p50 / p99 (${read.density})`, sized((at) => page(at.pages[name])), 'report', '']);
  }
  out.push([`  catch-up, ${short(first.catchup.behind)} behind (since)`, sized((at) => `${n0.format(at.catchup.perSecond)}/s`), 'report', '']);
  const tail = first.tailing;
  const counts = tail.steps.map((s) => s.instances).join('/');
  // From one instance to two, before the server's core fills: the clean figure on a 2-core machine.
  out.push([
    `  PostgreSQL CPU per extra tailing instance at ${tail.rate} changes/s, 1 → 2 instances`,
    sized(({ tailing: t }) => {
      const second = t.steps[1];
      return `${n0.format(t.usPerChangePerInstanceFirstTwo)} µs/change (its tail's backend ${n0.format(second.feedUsPerChangePerTail)} µs/change, ${n0.format(second.feedUsPerBatchPerTail)} µs/batch)`;
    }),
    'report',
    '',
  ]);
  out.push([
    `    PostgreSQL s/s at ${counts} instances; server core s/s; slope over all`,
    sized(({ tailing: t }) =>
      `${t.steps.map((s) => n2(s.writing.postgres)).join('/')}; ${t.serverCore.map(n2).join('/')}; ${n1(t.usPerChangePerInstance)} µs/change`),
    'report',
    '',
  ]);
  out.push([
    `  backlog of ${short(first.backlog.rows)} written while stopped: drain, app peak RSS`,
    sized((at) => `${n0.format(at.backlog.perSecond)}/s, ${n0.format(at.backlog.peakRssMb)} MB`),
    'report',
    '',
  ]);
  out.push([
    `  retention of the oldest ${short(first.retention.asked)}: rows/s, writers p99 during / after (${scale.rate}/s)`,
    sized((at) => `${n0.format(at.retention.perSecond)}/s, ${n1(at.retention.writersDuring.p99)} / ${n1(at.retention.writersAfter.p99)} ms`),
    'report',
    '',
  ]);
  out.push(['  time per part (s)', sized((at) => Object.entries(at.parts).map(([part, seconds]) => `${part} ${Math.round(seconds)}`).join(', ')), 'report', '']);
  return out;
}

/** The sinks scenario: webhook throughput and latency, the brokers' rates, the writers with three sinks. */
function sinkRows({ webhookThroughput: t, webhookLatency: l, brokers, writers: w, appWarnings }) {
  const out = [];
  const order = `${t.inOrder ? 'in order' : 'OUT OF ORDER'} · missing ${n0.format(t.missing)} · duplicates ${n0.format(t.duplicates)}`;
  // CPU seconds per second while it ran: where the time went when a rate falls short.
  const cpu = (c, other) => `CPU app ${n2(c.app)} (waited ${n2(c.appWaitingForCpu)}), ${other ? `${other} ${n2(c[other])}` : `receiver ${n2(c.bench)}`}`;
  out.push([
    `sinks: webhook, ${n0.format(t.changes)} changes to one receiver`,
    `${n0.format(t.perSecond)}/s (${n0.format(t.delivered)} in ${t.seconds.toFixed(1)} s) · ${order} · ${cpu(t.cpu)}`,
    '≥ 2,000/s, in order, none missing',
    verdict(['rate', t.perSecond, (v) => v >= 2_000], ['order', t.inOrder ? 1 : 0, (v) => v === 1], ['missing', t.missing, (v) => v === 0]),
  ]);
  out.push([
    `sinks: webhook, commit → receiver at ${l.rate}/s, ${l.seconds} s`,
    `p50 ${n1(l.p50)} ms · p99 ${n1(l.p99)} ms · max ${n1(l.max)} ms (${n1(l.warmUpMax)} ms in the uncounted first second) · lost ${n0.format(l.written - l.delivered)}`,
    'p99 ≤ 50 ms',
    verdict(['p99', l.p99, (v) => v <= 50]),
  ]);
  for (const [kind, b] of Object.entries(brokers)) {
    const title = `sinks: ${kind === 'nats' ? 'NATS JetStream, acks' : 'RabbitMQ, publisher confirms'}, ${n0.format(b.notifications ?? 0)} behind`;
    if (b.skipped) {
      out.push([title, b.skipped, '≥ 20,000/s', '—']);
      continue;
    }
    const stored = `${n0.format(b.stored)} stored in ${b.seconds.toFixed(1)} s`;
    const broker = kind === 'nats' ? 'nats-server' : 'beam.smp';
    const brokerCpu = (c) => (c[broker] === undefined ? '' : `, ${broker} ${n2(c[broker])}`);
    out.push([
      title,
      `${n0.format(b.perSecond)}/s, median of ${b.rounds.map((r) => n0.format(r)).join(' · ')} (${stored}; ${b.secondsFromCreation.toFixed(1)} s from creating the sink) · CPU app ${n2(b.cpu.app)} (waited ${n2(b.cpu.appWaitingForCpu)})${brokerCpu(b.cpu)}`,
      '≥ 20,000/s',
      verdict(['rate', b.perSecond, (v) => v >= 20_000]),
    ]);
    const raw = b.baseline;
    out.push([
      `  baseline: the same library alone, 1,000 in flight`,
      `${n0.format(raw.perSecond)}/s, median of ${raw.rounds.map((r) => n0.format(r)).join(' · ')} · CPU publisher ${n2(raw.cpu.app)}${brokerCpu(raw.cpu)}`,
      'report',
      '',
    ]);
    out.push([`  sink ÷ baseline (per round)`, range(b.ratio, n2), 'report', '']);
  }
  const some = `${w.sinks.length} sink${w.sinks.length === 1 ? '' : 's'}`;
  out.push([
    `sinks: writers, 8 (${w.driver}), app draining`,
    `no sinks ${n0.format(w.tps.none.median)} tps · ${some} (${w.sinks.join(', ')}) ${n0.format(w.tps.three.median)} tps`,
    '',
    '',
  ]);
  out.push([`  ${some} ÷ no sinks (per round)`, range(w.ratio, n2), '≥ 0.95 (unchanged within noise)', verdict(['ratio', w.ratio.median, (v) => v >= 0.95])]);
  const middle = (values) => values.map(Number).sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const servers = 'beam.smp+nats-server';
  const app = (rounds) =>
    `app ${n2(middle(rounds.map((c) => c.app)))} (waited ${n2(middle(rounds.map((c) => c.appWaitingForCpu)))})` +
    (rounds[0][servers] === undefined ? '' : `, brokers ${n2(middle(rounds.map((c) => c[servers])))}`);
  out.push(['  CPU s/s (median)', `no sinks: ${app(w.cpu.none)} · ${some}: ${app(w.cpu.three)}`, 'report', '']);
  // What the sinks did meanwhile: their rate, and what they had yet to deliver when the writers stopped.
  const perKind = (rounds, kind) => n0.format(middle(rounds.map((round) => round[kind])));
  out.push([
    '  sinks during those rounds (median)',
    w.sinks.map((kind) => `${kind} ${perKind(w.deliveredPerSecond, kind)}/s, ${perKind(w.behind, kind)} behind at the end`).join(' · '),
    'report',
    '',
  ]);
  // Every sink measured above, as the app counted it, and what the app logged at warn or error.
  const all = [l.sink, t.sink, ...Object.values(brokers).flatMap((b) => b.sinks ?? [b.sink]), ...w.health].filter(Boolean);
  const sum = (field) => all.reduce((total, sink) => total + (sink[field] || 0), 0);
  const states = [...new Set(all.map((sink) => sink.state))].join(', ');
  const log = appWarnings.length ? `app log: ${appWarnings.length} warnings/errors, first "${appWarnings[0].slice(0, 100)}"` : 'app log: no warnings or errors';
  out.push([
    `sinks: health of the ${all.length} sinks measured`,
    `states ${states} · failures ${sum('failures')} · retries ${sum('retries')} · dead letters ${sum('deadLetters')} · ${log}`,
    'no failures',
    verdict(['failures', sum('failures') + sum('deadLetters'), (v) => v === 0]),
  ]);
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
