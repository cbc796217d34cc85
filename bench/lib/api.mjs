// The app's REST API as the benchmark's scenarios call it: JSON in, JSON (or nothing) out, a
// failure thrown with its status and the start of its body.

/** `method path` on the app at `base`, with `body` as JSON; the answer's JSON, undefined when empty. */
export async function call(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** `call` bound to the app at `base`. */
export function apiOf(base) {
  return (method, path, body) => call(base, method, path, body);
}
