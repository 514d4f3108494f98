// Redacts secrets from a config before it is shown on the admin port: any value under a key that names a
// credential (authorization, cookie, token, secret, password, api key …) becomes "[redacted]".

const SECRET_KEY = /(authorization|cookie|token|secret|passw(or)?d|api[-_]?key|credential|private[-_]?key)/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && (typeof v !== 'object' || v === null) ? '[redacted]' : redact(v);
  return out;
}
