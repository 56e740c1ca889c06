/** `vrft import-run DIR`: a finished TRL (or VLM-R1 / Visual-RFT) output folder as a workspace run. */
import { UsageError, type Command } from './command';

export const importRunCommand: Command = {
  summary: 'bring a finished TRL / VLM-R1 / Visual-RFT output folder into the workspace as a run',
  usage: 'vrft import-run DIR [--data WS] [--name NAME] [--json]',
  flags: { data: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 1,
  run: () => Promise.reject(new UsageError('import-run is not built yet')),
};
