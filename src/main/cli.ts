/**
 * The `vrft` command. Each command declares its flags once; usage errors (an unknown command, an
 * unknown flag, a bad value) print one line and exit 2.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pkg from '../../package.json';
import { openBrowser } from './host/browser';
import { startHost } from './host/index';
import { defaultDataDir } from './host/paths';

export class UsageError extends Error {}

type Flags = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  summary: string;
  usage: string;
  flags: Flags;
  /** How many positional arguments it takes (none unless said). */
  positionals?: number;
  run(values: Values, positionals: string[]): Promise<number>;
}

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);

const commands: Record<string, Command> = {
  serve: {
    summary: 'start the engine host and serve the app to a browser',
    usage: 'vrft serve [--port N] [--host H] [--data DIR] [--open]',
    flags: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      open: { type: 'boolean' },
    },
    run: serve,
  },
};

async function serve(values: Values): Promise<number> {
  const port = parsePort(values.port);
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const rendererDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../renderer');
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    process.stderr.write(
      `vrft: the app is not built (no ${rendererDir}/index.html): run \`npm run build\` first.\n`,
    );
    return 1;
  }
  if (!loopback.has(host)) {
    process.stderr.write(
      `vrft: warning: listening on ${host}, not loopback: anyone on your network who has the URL's token can use this workspace.\n`,
    );
  }
  const running = await startHost({ host, port, dataDir, rendererDir, version: pkg.version });
  process.stdout.write(`vrft is serving ${dataDir} at ${running.url}\n`);
  if (values.open && !openBrowser(running.url)) {
    process.stdout.write('vrft: no browser found on this machine: open the URL above in one.\n');
  }
  // Spawned by the Electron shell: report readiness, and stop when the shell goes away.
  process.send?.({ type: 'ready', url: running.url, port: running.port, token: running.token });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.once('disconnect', resolve);
  });
  await running.close();
  return 0;
}

function parsePort(value: string | boolean | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(`--port wants a whole number from 0 to 65535, got "${String(value)}"`);
  }
  return port;
}

function describeParseError(error: Error & { code?: string }): string {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag ${flag ?? ''}`.trim();
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const takesNone = error.message.includes('does not take an argument');
    return `${flag ?? 'a flag'} ${takesNone ? 'takes no value' : 'needs a value'}`;
  }
  return error.message.split('\n')[0] ?? error.message;
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    `vrft ${pkg.version} — Visual RFT Workbench`,
    '',
    'Usage: vrft <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    "vrft <command> --help shows a command's flags.",
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command "${name}" (vrft --help lists the commands)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`Usage: ${command.usage}\n`);
      return 0;
    }
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: command.flags, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(
        `${describeParseError(error as Error & { code?: string })} (usage: ${command.usage})`,
      );
    }
    if (parsed.positionals.length > (command.positionals ?? 0)) {
      throw new UsageError(`unexpected argument "${parsed.positionals.at(-1)}" (usage: ${command.usage})`);
    }
    return await command.run(parsed.values as Values, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`vrft: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`vrft: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`vrft: ${String(error)}\n`);
    process.exit(1);
  },
);
