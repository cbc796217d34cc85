import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { metricTypes } from '../support/metrics.js';

const OPS = path.resolve(import.meta.dirname, '../../ops');
const RULES = path.join(OPS, 'prometheus/rowcast.rules.yml');
const RULE_TESTS = path.join(OPS, 'prometheus/rowcast.rules.test.yml');
const DASHBOARD = path.join(OPS, 'grafana/rowcast.json');
/** Debian's `prometheus` package has it (.ci/run installs it when missing). */
const PROMTOOL = process.env.PROMTOOL_PATH ?? 'promtool';

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, args, { cwd: path.dirname(args[args.length - 1]) }, (error, stdout, stderr) => {
      // promtool missing: say so, not "exit 1".
      if (error && typeof error.code !== 'number') reject(new Error(`${PROMTOOL} could not run (apt-get install prometheus, or set PROMTOOL_PATH): ${error.message}`));
      else resolve({ code: error ? Number(error.code) : 0, output: stdout + stderr });
    });
  });
}

interface Panel {
  id: number;
  title: string;
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
}

/** Every query of the dashboard, with where it is (panels inside rows too). */
function dashboardQueries(dashboard: Dashboard): { where: string; expr: string }[] {
  const walk = (panels: Panel[]): { where: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).map((target) => ({ where: `panel ${panel.id} "${panel.title}" ${target.refId}`, expr: target.expr })),
      ...walk(panel.panels ?? []),
    ]);
  return walk(dashboard.panels);
}

/**
 * The `expr:` values of the rules file as it writes them: on the line itself, or as a `|` block of
 * the lines indented below it. (promtool reads the file for real; this only lists the names in it.)
 */
function ruleExpressions(text: string): string[] {
  const lines = text.split('\n');
  const found: string[] = [];
  lines.forEach((line, i) => {
    const match = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!match) return;
    if (match[2] !== '|') return void found.push(match[2]);
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && (lines[j].trim() === '' || lines[j].search(/\S/) > match[1].length); j++) block.push(lines[j].trim());
    found.push(block.join(' '));
  });
  return found;
}

/**
 * The metric names a PromQL expression selects: what is left once strings, label matchers, ranges,
 * groupings (by, without, on, ignoring, group_left/right) and keywords are taken out, and that is
 * not called as a function.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'inf', 'nan']);
  return [...bare.matchAll(/(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((match) => match[1]).filter((name) => !keywords.has(name.toLowerCase()));
}

describe('shipped Prometheus alert rules and Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const queries = dashboardQueries(dashboard);
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'rowcast-ops-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('promtool check rules accepts the alert rules', async () => {
    const { code, output } = await promtool('check', 'rules', RULES);
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS: 8 rules found/);
  });

  it('each alert fires in its promtool test rules scenario, and stays quiet in the look-alikes beside it', async () => {
    const { code, output } = await promtool('test', 'rules', RULE_TESTS);
    expect(code, output).toBe(0);
    // Every alert of the rules file has a scenario.
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\S+)$/gm)].map((match) => match[1]);
    const tested = new Set([...readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\S+)/g)].map((match) => match[1]));
    expect(alerts.filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it("every query of the dashboard parses as PromQL (as recording rules, by promtool check rules), and promtool refuses one that does not", async () => {
    expect(queries.length).toBeGreaterThan(20);
    const asRules = (exprs: string[]) =>
      JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] });
    const file = path.join(work, 'dashboard.rules.json');
    writeFileSync(file, asRules(queries.map(({ expr }) => expr)));
    const parsed = await promtool('check', 'rules', file);
    expect(parsed.code, parsed.output).toBe(0);
    expect(parsed.output).toContain(`SUCCESS: ${queries.length} rules found`);
    // The check is real: one query broken the way a hand edit breaks it (a bracket lost) is refused.
    writeFileSync(file, asRules([...queries.map(({ expr }) => expr), queries[0].expr.replace(')', '')]));
    expect((await promtool('check', 'rules', file)).code).not.toBe(0);
  });

  describe('against a running app', () => {
    let t: TestApp;
    let exported: Map<string, string>;
    beforeAll(async () => {
      t = await createTestApp();
      exported = metricTypes((await t.http.get('/metrics').expect(200)).text);
    });
    afterAll(() => t?.close());

    /** Whether `name` is a series rowcast exports: a metric of /metrics, or a histogram's bucket, sum or count. */
    const isExported = (name: string) => {
      if (exported.has(name)) return true;
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      return histogram !== undefined && exported.get(histogram) === 'histogram';
    };

    it('the dashboard and the alert rules name only metrics that /metrics exports', () => {
      const dashboardNames = queries.flatMap(({ where, expr }) => metricNames(expr).map((name) => ({ where, name })));
      for (const variable of dashboard.templating.list) {
        for (const [, name] of (variable.definition ?? '').matchAll(/label_values\((\w+)/g)) dashboardNames.push({ where: `variable ${variable.name}`, name });
      }
      const ruleNames = ruleExpressions(readFileSync(RULES, 'utf8')).flatMap((expr) => metricNames(expr).map((name) => ({ where: 'rules', name })));
      const names = [...dashboardNames, ...ruleNames];
      expect(new Set(names.map(({ name }) => name)).size).toBeGreaterThan(20);
      expect(names.filter(({ name }) => !isExported(name))).toEqual([]);
      // The extraction itself: a name that is not exported would be found.
      expect(metricNames('sum by (le) (rate(rowcast_no_such_metric_bucket{job=~"$job"}[5m])) > 0.5').filter((name) => !isExported(name))).toEqual([
        'rowcast_no_such_metric_bucket',
      ]);
    });
  });
});
