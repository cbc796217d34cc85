/**
 * Prometheus text exposition format, line by line: HELP and TYPE comments, then samples
 * `name{label="value",...} number` (NaN and ±Inf in any case, as Prometheus's float parser takes
 * them). Returns the samples; throws on any line that is neither.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sample = new RegExp(`^(${NAME})(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*",?)*\\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-][Ii]nf)$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (new RegExp(`^# HELP ${NAME} .*$`).test(line)) continue;
    const match = sample.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const family = match[1].replace(/_(bucket|sum|count)$/, '');
    if (!types.has(match[1]) && !types.has(family)) throw new Error(`sample without TYPE: ${line}`);
    samples.set(match[1] + (match[2] ?? ''), Number(match[3]));
  }
  return samples;
}

/** The metric names a Prometheus text exposition declares (its TYPE lines), with their types. */
export function metricTypes(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name, type]));
}
