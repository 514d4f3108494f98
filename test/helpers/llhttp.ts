// Node's own llhttp parser (internal binding), the oracle of the parsers' differential tests.

import { createRequire } from 'node:module';

export interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(buf: Buffer): number | Error;
  finish(): undefined | Error;
  [key: number]: unknown;
}

export interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  /** Fields so far, when a head spans several reads: (fields, url). kOnHeadersComplete then gets none. */
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

const require = createRequire(import.meta.url);
// biome-ignore lint/style/useNodejsImportProtocol: an internal module, reachable only by this name.
const common = require('_http_common') as { HTTPParser: LlhttpParserClass; methods: string[] };

export const HTTPParser = common.HTTPParser;
/** Method names by llhttp's method index. */
export const llhttpMethods = common.methods;
