// The `headers` filter: add, set and remove request and response headers. Values may name request attributes —
// %client_address%, %request_id%, %route%, %listener% — filled in per request; any other text (other %…%
// included) is copied as is.
// Routes' `requestHeaders` and `responseHeaders` compile to an instance of it.

import { type Static, Type as T } from '@sinclair/typebox';
import type { HeaderList } from '../core/http/header-list.ts';
import type { StreamContext } from '../core/http/stream-context.ts';
import { defineFilter } from './api.ts';

const Rules = T.Object(
  {
    add: T.Optional(T.Record(T.String(), T.String())),
    set: T.Optional(T.Record(T.String(), T.String())),
    remove: T.Optional(T.Array(T.String())),
  },
  { additionalProperties: false },
);

const Options = T.Object({ request: T.Optional(Rules), response: T.Optional(Rules) }, { additionalProperties: false });

type RulesOptions = Static<typeof Rules>;

const ATTRIBUTES: Record<string, (ctx: StreamContext) => string> = {
  client_address: (ctx) => ctx.remoteAddress,
  request_id: (ctx) => ctx.requestId,
  route: (ctx) => ctx.routeName,
  listener: (ctx) => ctx.listenerName,
};

/** A value: plain text, or text and attribute readers in order. */
type Value = string | (string | ((ctx: StreamContext) => string))[];

/** Rules compiled once per generation: lower-case names, values parsed. */
interface CompiledRules {
  remove: string[];
  set: [string, Value][];
  add: [string, Value][];
}

function compileValue(v: string): Value {
  if (!v.includes('%')) return v;
  const parts: (string | ((ctx: StreamContext) => string))[] = [];
  let rest = v;
  const names = Object.keys(ATTRIBUTES).join('|');
  const token = new RegExp(`%(${names})%`);
  for (let m = token.exec(rest); m !== null; m = token.exec(rest)) {
    if (m.index > 0) parts.push(rest.slice(0, m.index));
    parts.push(ATTRIBUTES[m[1] as string] as (ctx: StreamContext) => string);
    rest = rest.slice(m.index + m[0].length);
  }
  if (parts.length === 0) return v;
  if (rest !== '') parts.push(rest);
  return parts;
}

function compile(r: RulesOptions | undefined): CompiledRules | null {
  if (r === undefined) return null;
  const pairs = (m: Record<string, string> | undefined): [string, Value][] => Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), compileValue(v)]);
  const c = { remove: (r.remove ?? []).map((n) => n.toLowerCase()), set: pairs(r.set), add: pairs(r.add) };
  return c.remove.length + c.set.length + c.add.length === 0 ? null : c;
}

function render(v: Value, ctx: StreamContext): string {
  if (typeof v === 'string') return v;
  let s = '';
  for (const p of v) s += typeof p === 'string' ? p : p(ctx);
  return s;
}

function apply(headers: HeaderList, r: CompiledRules, ctx: StreamContext): void {
  for (const name of r.remove) headers.remove(name);
  for (const [name, v] of r.set) headers.set(name, render(v, ctx));
  for (const [name, v] of r.add) headers.add(name, render(v, ctx));
}

export default defineFilter({
  name: 'headers',
  // onResponse edits fields and returns at once: the native engine may run it (api.ts synchronousResponse).
  synchronousResponse: true,
  config: Options,
  create(options) {
    const request = compile(options.request);
    const response = compile(options.response);
    return {
      onRequest: request === null ? undefined : (req, ctx) => apply(req.headers, request, ctx),
      onResponse: response === null ? undefined : (res, ctx) => apply(res.headers, response, ctx),
    };
  },
});
