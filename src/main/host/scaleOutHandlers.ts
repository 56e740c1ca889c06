/**
 * "Run on a cluster" behind the contract: a GRPO run exported as a TRL project (what
 * `vrft scale-out export` does) and its reward server run inside the host, so the run fills in
 * live, with no command to start on this machine, while TRL trains on a cluster through an SSH
 * tunnel. The host keeps each server until it is stopped, its run is cancelled, or the host closes.
 */
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import type { RewardServerListing, ScaleOutSummary } from '../../shared/scaleOutContract';
import { exportScaleOut } from '../scaleOut/export';
import { defaultRewardPort, readPlan, type ScaleOutPlan } from '../scaleOut/plan';
import { startRewardServer, type RewardServer } from '../scaleOut/server';
import type { Db } from '../store/db';
import { getRun, metricsAtStep } from '../store/runs';
import type { GrpoConfig } from '../train/config';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import type { Broadcast } from './jobs';
import { checkedConfig } from './runHandlers';

type ScaleOutCalls = 'scaleOut.export' | 'scaleOut.listening' | 'scaleOut.listen' | 'scaleOut.stop';

/** The reward server binds loopback only: a cluster reaches it through an SSH tunnel. */
const loopback = '127.0.0.1';
/** How often a listening run is checked for what TRL's requests changed (status, rollouts, logs). */
const watchMs = 1000;
/** Ports tried for a new export before the project names one: the CLI's default, then the next ones. */
const portsTried = 20;

/** config.scaleOut of a run, for the run list; null for a run that trains here. */
export function scaleOutOf(config: Record<string, unknown>): ScaleOutSummary | null {
  const s = config.scaleOut as Partial<ScaleOutSummary> | undefined;
  if (s?.engine !== 'trl') return null;
  return {
    engine: 'trl',
    project: String(s.project ?? ''),
    gpus: Number(s.gpus ?? 1),
    deepspeed: s.deepspeed === 'zero2' || s.deepspeed === 'zero3' ? s.deepspeed : 'none',
    vllm: s.vllm === true,
  };
}

const urlOf = (host: string, port: number) => `http://${host}:${port}`;

/** Whether nothing listens on `port` of loopback now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, loopback, () => probe.close(() => resolve(true)));
  });
}

interface Listening {
  server: RewardServer;
  plan: ScaleOutPlan;
  timer: NodeJS.Timeout;
  /** The step of the last round recorded, where TRL's log for that step lands next. */
  lastRound: number | null;
  /** What the run looked like when clients were last told. */
  seen: string;
}

/**
 * The reward servers this host runs, one per scale-out run at most. Clients learn of what TRL's
 * requests change through `job.state` (the list and the curves read the run again), as they do
 * of a local trainer's runs.
 */
export class RewardServers {
  private readonly servers = new Map<number, Listening>();
  private readonly starting = new Map<number, Promise<RewardServerListing>>();

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly broadcast: Broadcast,
    private readonly log: (line: string) => void = () => {},
    /** The built record worker (tests running from source name the build's); found by default. */
    private readonly recordWorker?: string,
  ) {}

  list(): RewardServerListing[] {
    return [...this.servers.values()].map((l) => this.listing(l));
  }

  private listing({ server, plan }: Listening): RewardServerListing {
    return {
      runId: plan.runId,
      url: server.url,
      projectUrl: urlOf(plan.host, plan.port),
      rollouts: server.rollouts(),
    };
  }

  /**
   * A port for a new export's project: the first free one from the CLI's default on (this host's
   * other servers hold theirs), so reward.json names where the server will listen.
   */
  async freePort(): Promise<number> {
    for (let port = defaultRewardPort; port < defaultRewardPort + portsTried; port++)
      if (await portIsFree(port)) return port;
    return defaultRewardPort;
  }

  /** Starts run `runId`'s server on its plan's port, or any free one when that is taken. */
  listen(runId: number): Promise<RewardServerListing> {
    const running = this.servers.get(runId);
    if (running) return Promise.resolve(this.listing(running));
    const pending = this.starting.get(runId) ?? this.start(runId);
    this.starting.set(runId, pending);
    return pending.finally(() => this.starting.delete(runId));
  }

  private async start(runId: number): Promise<RewardServerListing> {
    const run = getRun(this.db, runId);
    if (!run) throw new UserError('not_found', `Run ${runId} does not exist.`);
    if (run.status === 'cancelled')
      throw new UserError('conflict', `Run ${runId} was cancelled: export the run again to train it.`);
    const plan = readPlan(this.dataDir, runId);
    const serve = (port: number) =>
      startRewardServer(this.db, plan, {
        host: loopback,
        port,
        onRound: ({ step }) => {
          const l = this.servers.get(runId);
          if (l) l.lastRound = step;
          this.check(runId);
        },
        ...(this.recordWorker && { recordWorker: this.recordWorker }),
      });
    let server: RewardServer;
    try {
      server = await serve(plan.port);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      // Taken (another program, or `vrft reward-server` for this run): any free port will do,
      // and the launch command then names it (VRFT_REWARD_URL).
      server = await serve(0);
      this.log(`run ${runId}: port ${plan.port} is taken; its reward server listens on ${server.url}`);
    }
    const listening: Listening = {
      server,
      plan,
      timer: setInterval(() => this.check(runId), watchMs).unref(),
      lastRound: null,
      seen: '',
    };
    listening.seen = this.state(listening);
    this.servers.set(runId, listening);
    return this.listing(listening);
  }

  /** What clients show of a served run: its status, the rollouts recorded, the metrics at the last round. */
  private state({ plan: { runId }, server, lastRound }: Listening): string {
    const run = getRun(this.db, runId);
    const logged = lastRound === null ? 0 : Object.keys(metricsAtStep(this.db, runId, lastRound)).length;
    return JSON.stringify([run?.status, run?.error, server.rollouts(), logged]);
  }

  /** Tells clients when TRL's requests changed the run; a run cancelled here stops being served. */
  private check(runId: number): void {
    const l = this.servers.get(runId);
    if (!l) return;
    const run = getRun(this.db, runId);
    if (!run || run.status === 'cancelled') {
      void this.stop(runId);
      return;
    }
    const now = this.state(l);
    if (now === l.seen) return;
    l.seen = now;
    this.broadcast('job.state', { runId, state: run.status, error: run.error });
  }

  async stop(runId: number): Promise<void> {
    const l = this.servers.get(runId);
    if (!l) return;
    this.servers.delete(runId);
    clearInterval(l.timer);
    await l.server.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((runId) => this.stop(runId)));
  }
}

/** "~/runs/x" as the user's home folder; anything else must be a full path. */
function projectFolder(typed: string): string {
  const home = /^~(?=$|[\\/])/.test(typed) ? path.join(os.homedir(), typed.slice(1)) : typed;
  if (!path.isAbsolute(home))
    throw new UserError(
      'invalid_input',
      `"${typed}" is not a full path: name the project folder from the root, e.g. ${path.join(os.homedir(), 'vrft-cluster-run')}`,
    );
  return path.normalize(home);
}

export function createScaleOutHandlers(ctx: HostContext): Pick<Handlers, ScaleOutCalls> {
  const { db, dataDir, rewardServers: servers } = ctx;
  return {
    'scaleOut.export': async ({ config, name, out, gpus, deepspeed, vllm }) => {
      const exported = await exportScaleOut(db, {
        config: checkedConfig('grpo', config) as GrpoConfig,
        baseDir: process.cwd(),
        source: 'config',
        out: projectFolder(out),
        dataDir,
        gpus,
        deepspeed,
        vllm,
        host: loopback,
        port: await servers.freePort(),
        ...(name ? { name } : {}),
      });
      const listening = await servers.listen(exported.runId);
      const port = new URL(listening.url).port;
      // The project's reward.json names the plan's port; a server elsewhere is named at launch.
      const launch =
        listening.url === listening.projectUrl
          ? exported.commands.launch
          : exported.commands.launch.replace(
              /\.\/launch\.sh$/,
              `VRFT_REWARD_URL=${listening.url} ./launch.sh`,
            );
      return {
        runId: exported.runId,
        out: exported.out,
        url: listening.url,
        samples: exported.samples,
        commands: {
          launch,
          server: exported.commands.server,
          tunnel: `ssh -N -R ${port}:${loopback}:${port} you@cluster-node`,
        },
      };
    },
    'scaleOut.listening': () => servers.list(),
    'scaleOut.listen': ({ runId }) => servers.listen(runId),
    'scaleOut.stop': async ({ runId }) => {
      await servers.stop(runId);
      return { ok: true as const };
    },
  };
}
