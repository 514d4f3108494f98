// The `headers` filter: add, set and remove request and response headers. Routes' `requestHeaders` and
// `responseHeaders` compile to an instance of it, so route header rules run as an ordinary filter.

import { type Static, Type as T } from '@sinclair/typebox';
import type { HeaderList } from '../core/http/header-list.ts';
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

/** Rules flattened once per generation: [name, value, …] arrays, lower-case names. */
interface CompiledRules {
  remove: string[];
  set: string[];
  add: string[];
}

function compile(r: RulesOptions | undefined): CompiledRules | null {
  if (r === undefined) return null;
  const flat = (m: Record<string, string> | undefined) => Object.entries(m ?? {}).flatMap(([k, v]) => [k.toLowerCase(), v]);
  const c = { remove: (r.remove ?? []).map((n) => n.toLowerCase()), set: flat(r.set), add: flat(r.add) };
  return c.remove.length + c.set.length + c.add.length === 0 ? null : c;
}

function apply(headers: HeaderList, r: CompiledRules): void {
  for (const name of r.remove) headers.remove(name);
  for (let i = 0; i < r.set.length; i += 2) headers.set(r.set[i] as string, r.set[i + 1] as string);
  for (let i = 0; i < r.add.length; i += 2) headers.add(r.add[i] as string, r.add[i + 1] as string);
}

export default defineFilter({
  name: 'headers',
  config: Options,
  create(options) {
    const request = compile(options.request);
    const response = compile(options.response);
    return {
      onRequest: request === null ? undefined : (req) => apply(req.headers, request),
      onResponse: response === null ? undefined : (res) => apply(res.headers, response),
    };
  },
});
