/** `vrft reward-server`: vrft's rewards over HTTP for a TRL run, recording every rollout it scores. */
import { UsageError, type Command } from './command';

export const rewardServerCommand: Command = {
  summary: "serve a run's verifiable rewards over HTTP to TRL, recording every rollout",
  usage: 'vrft reward-server --run RUN [--port N] [--host H] [--data WS] [--json]',
  flags: {
    run: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: () => Promise.reject(new UsageError('reward-server is not built yet')),
};
