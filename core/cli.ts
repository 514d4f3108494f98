// The `mantou` command: run, validate, config schema, healthcheck. Exit codes: 0 clean, 1 invalid config or start-up
// failure, 2 usage error. Failures print one line per problem, never a stack trace.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, StartupError } from './errors.ts';

const USAGE = `Usage: mantou [run] -c FILE        run the proxy
       mantou validate -c FILE       check a config file (exit 0 valid, 1 invalid)
       mantou config schema          print the config's JSON Schema
       mantou healthcheck [-c FILE] [--admin HOST:PORT]
                                     exit 0 when the admin port's /ready answers 200, else 1
       mantou --help | --version

Options:
  -c, --config FILE   config file (YAML)
  --concurrency N     data-plane worker threads (overrides \`workers\` in the config; default: one per core)
  --admin HOST:PORT   healthcheck: the admin port to ask (default: the config's \`admin\`, else 127.0.0.1:9901)
  -h, --help          this text
  -v, --version       print the version
Signals: SIGHUP reloads the config; SIGTERM/SIGINT drain gracefully (a second one exits at once).
Environment:
  MANTOU_LOG_LEVEL    trace|debug|info|warn|error (default info)`;

const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`mantou: ${(err as Error).message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write(`mantou ${version()}\n`);
    return EXIT_OK;
  }
  const verb = positionals[0] ?? 'run';
  if (verb === 'config') {
    if (positionals[1] !== 'schema' || positionals.length > 2) return usageError('expected "mantou config schema"');
    const { ConfigSchema } = await import('../config/schema.ts');
    process.stdout.write(`${JSON.stringify(ConfigSchema, null, 2)}\n`);
    return EXIT_OK;
  }
  if (verb === 'healthcheck') {
    if (positionals.length > 1) return usageError(`unexpected argument "${positionals[1]}"`);
    const { adminTarget, probeReady } = await import('./healthcheck.ts');
    let target: ReturnType<typeof adminTarget>;
    try {
      target = adminTarget(values.admin, values.config);
    } catch (err) {
      process.stderr.write(`mantou healthcheck: ${(err as Error).message}\n`);
      return EXIT_INVALID;
    }
    const r = await probeReady(target);
    (r.status === 200 ? process.stdout : process.stderr).write(`${r.line}\n`);
    return r.status === 200 ? EXIT_OK : EXIT_INVALID;
  }
  if (verb !== 'run' && verb !== 'validate') return usageError(`unknown command "${verb}"`);
  if (positionals.length > 1) return usageError(`unexpected argument "${positionals[1]}"`);
  if (!values.config) return usageError('missing -c FILE');

  const { loadConfigFile } = await import('../config/load-config.ts');
  try {
    let concurrency: number | undefined;
    if (values.concurrency !== undefined) {
      concurrency = Number(values.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) return usageError('--concurrency takes a whole number from 1 to 256');
    }
    if (verb === 'validate') {
      await loadConfigFile(values.config);
      process.stdout.write(`${values.config}: valid\n`);
      return EXIT_OK;
    }
    return await run(values.config, concurrency);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StartupError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_INVALID;
    }
    throw err;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      concurrency: { type: 'string' },
      admin: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

function usageError(message: string): number {
  process.stderr.write(`mantou: ${message}\n${USAGE}\n`);
  return EXIT_USAGE;
}

async function run(file: string, concurrency: number | undefined): Promise<number> {
  const { Supervisor } = await import('./supervisor.ts');
  const supervisor = await Supervisor.start({ configFile: file, concurrency });
  return supervisor.done;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (code !== EXIT_OK) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`mantou: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT_INVALID);
  },
);
