/**
 * The `vrft` command. Each command declares its flags once; usage errors (an unknown command, an
 * unknown flag, a bad value) print one line and exit 2.
 */
import { parseArgs } from 'node:util';
import pkg from '../../package.json';
import { UsageError, type Command, type Values } from './commands/command';
import { compareCommand } from './commands/compare';
import { doctorCommand } from './commands/doctor';
import { evalCommand } from './commands/eval';
import { evalMapCommand } from './commands/evalMap';
import { experimentCommand } from './commands/experiment';
import { exportModelCommand } from './commands/exportModel';
import { generateCommand } from './commands/generate';
import { importRunCommand } from './commands/importRun';
import { exportCommand, importCommand } from './commands/importExport';
import { rewardCommand } from './commands/reward';
import { rewardServerCommand } from './commands/rewardServer';
import { scaleOutCommand } from './commands/scaleOut';
import { serveCommand } from './commands/serve';
import { synthCommand } from './commands/synth';
import { trainCommand } from './commands/train';
import { tracesCommand } from './commands/traces';

const commands: Record<string, Command> = {
  serve: serveCommand,
  reward: rewardCommand,
  'eval-map': evalMapCommand,
  synth: synthCommand,
  import: importCommand,
  export: exportCommand,
  train: trainCommand,
  eval: evalCommand,
  experiment: experimentCommand,
  compare: compareCommand,
  traces: tracesCommand,
  generate: generateCommand,
  doctor: doctorCommand,
  'export-model': exportModelCommand,
  'scale-out': scaleOutCommand,
  'reward-server': rewardServerCommand,
  'import-run': importRunCommand,
};

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
