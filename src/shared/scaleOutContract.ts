/**
 * The Train view's "Run on a cluster" calls, spread into contract.ts's `calls`: a GRPO run exported
 * as a TRL project (`vrft scale-out export`), and the reward servers the host runs for such runs so
 * that they fill in live while TRL trains elsewhere.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const ok = z.object({ ok: z.literal(true) });

export const deepSpeedModes = ['none', 'zero2', 'zero3'] as const;

/** What a run's config says of its scale-out (config.scaleOut), as the run list shows it. */
export const scaleOutSummary = z.object({
  engine: z.literal('trl'),
  /** The exported project folder, on the machine that exported it. */
  project: z.string(),
  gpus: z.number().int().positive(),
  deepspeed: z.enum(deepSpeedModes),
  vllm: z.boolean(),
});
export type ScaleOutSummary = z.infer<typeof scaleOutSummary>;

/** A reward server the host runs for a scale-out run. */
export const rewardServerListing = z.object({
  runId: id,
  url: z.string(),
  /** The url the project's reward.json names; another one when the plan's port was taken. */
  projectUrl: z.string(),
  /** Rollouts it recorded since it started. */
  rollouts: z.number().int().nonnegative(),
});
export type RewardServerListing = z.infer<typeof rewardServerListing>;

export const scaleOutCalls = {
  /**
   * Writes the TRL project for the GRPO run the Train form describes (the config `runs.start`
   * takes), creates the run (queued) and starts its reward server in the host.
   */
  'scaleOut.export': {
    input: z
      .object({
        config: z.record(z.string(), z.unknown()),
        name: z.string().trim().max(200).optional(),
        /** The project folder: new or empty, a full path ("~/" is the user's home). */
        out: z.string().trim().min(1, 'name a folder for the project'),
        gpus: z.number().int().min(1, 'at least 1 GPU').max(64, 'at most 64 GPUs'),
        deepspeed: z.enum(deepSpeedModes).default('none'),
        vllm: z.boolean().default(false),
      })
      .strict(),
    output: z.object({
      runId: id,
      out: z.string(),
      /** Where the reward server listens now. */
      url: z.string(),
      samples: z.number().int().nonnegative(),
      commands: z.object({
        /** Launch training in the project folder (with VRFT_REWARD_URL when the server moved port). */
        launch: z.string(),
        /** `vrft reward-server` for this run, to serve it from another process or machine. */
        server: z.string(),
        /** The SSH tunnel that lets a cluster's node reach the server. */
        tunnel: z.string(),
      }),
    }),
  },
  'scaleOut.listening': { input: z.object({}).strict(), output: z.array(rewardServerListing) },
  /** Starts a scale-out run's reward server again (after a restart of the app, or a Stop). */
  'scaleOut.listen': { input: z.object({ runId: id }).strict(), output: rewardServerListing },
  'scaleOut.stop': { input: z.object({ runId: id }).strict(), output: ok },
} as const;
