import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = path.resolve('bin/vrft.js');
let dir: string;

beforeAll(() => {
  if (!existsSync('out/main/cli.js')) throw new Error('The CLI is not built: run `npm run build` first.');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vrft(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `vrft serve` on the workspace `data` (under the test folder), resolves with its first stdout line and stderr so far. */
function serve(data: string, ...args: string[]) {
  const child = spawn(process.execPath, [bin, 'serve', '--data', path.join(dir, data), ...args]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.on('exit', (code) => reject(new Error(`vrft serve exited ${code}: ${stderr}`)));
  });
  return { child, line, stderr: () => stderr };
}

describe('vrft command', () => {
  it('lists its commands with --help', () => {
    const { code, stdout } = vrft('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: vrft <command>/);
    expect(stdout).toMatch(/^\s+serve\s+/m);
    expect(vrft('serve', '--help').stdout).toContain(
      'vrft serve [--port N] [--host H] [--data DIR] [--open]',
    );
  });

  it('every command that takes --json is one whose stdout these tests parse whole', () => {
    const names = [...vrft('--help').stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
    const withJson = names.filter((name) => vrft(name, '--help').stdout.includes('--json'));
    // doctor below; reward, eval-map in cliEval.test.ts; experiment, compare, eval in experiment.test.ts;
    // traces in traces.test.ts; export-model in exportModel.test.ts; generate below; scale-out and
    // reward-server in scaleOut.test.ts; import-run in importRun.test.ts; import in importTasks.test.ts.
    expect(withJson.sort()).toEqual([
      'compare',
      'doctor',
      'eval',
      'eval-map',
      'experiment',
      'export-model',
      'generate',
      'import',
      'import-run',
      'reward',
      'reward-server',
      'scale-out',
      'traces',
    ]);
  }, 90_000); // some twenty vrft processes, one after another

  it('generate --json writes one JSON document: the answer transformers gives', () => {
    const fixtures = 'test/fixtures/qwen';
    const cases = JSON.parse(readFileSync(`${fixtures}/generate/cases.json`, 'utf8')) as {
      model: string;
      image: string;
      prompt: string;
      template: string;
      tokenIds: number[];
      text: string;
    }[];
    const c = cases.find((x) => x.template === 'chat')!;
    const result = spawnSync(
      process.execPath,
      [
        bin,
        'generate',
        '--model',
        `${fixtures}/${c.model}`,
        '--image',
        `${fixtures}/generate/${c.image}`,
        '--prompt',
        c.prompt,
        '--max-new-tokens',
        String(c.tokenIds.length),
        '--backend',
        'cpu',
        '--json',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ tokenIds: c.tokenIds, text: c.text });
  });

  it('doctor --json writes one JSON document to stdout', () => {
    const { code, stdout, stderr } = vrft('doctor', '--backend', 'cpu', '--json');
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ backend: 'cpu', matMulGflops: expect.any(Number) });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['serve', '--bogus'], /unknown flag --bogus/],
    [['serve', '--port', 'abc'], /--port wants a whole number/],
    [['serve', '--port', '70000'], /--port wants a whole number/],
    [['serve', '--port'], /--port needs a value/],
    [['serve', '--open=yes'], /--open takes no value/],
    [['serve', 'extra'], /unexpected argument "extra"/],
  ])('vrft %j is a usage error: one line, exit 2', (args, message) => {
    const { code, stderr, stdout } = vrft(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });

  it('serve prints one URL with a random token, binds loopback, and stops on SIGTERM', async () => {
    const first = serve('data');
    const line = await first.line;
    const url = /(http:\/\/\S+)/.exec(line)?.[1] ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
    expect(first.stderr()).not.toMatch(/warning/);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect((await fetch(url.replace(/\?token=.*/, ''))).status).toBe(401);

    // One host per workspace: a second on the same folder is refused, saying who holds it.
    const refused = vrft('serve', '--data', path.join(dir, 'data'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /is already open in another vrft: process \d+ on .* at http:\/\/127\.0\.0\.1:\d+\//,
    );

    const second = serve('data2');
    const otherUrl = /(http:\/\/\S+)/.exec(await second.line)?.[1] ?? '';
    expect(new URL(otherUrl).searchParams.get('token')).not.toBe(new URL(url).searchParams.get('token'));

    for (const s of [first, second]) {
      const exited = new Promise<number | null>((resolve) => s.child.on('exit', resolve));
      s.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('warns when told to listen beyond loopback', async () => {
    const s = serve('wide', '--host', '0.0.0.0');
    await s.line;
    await expect.poll(() => s.stderr()).toMatch(/warning: listening on 0\.0\.0\.0/);
    const exited = new Promise((resolve) => s.child.on('exit', resolve));
    s.child.kill('SIGTERM');
    await exited;
  });
});

describe('vrft serve refuses what it cannot serve, with what to do', () => {
  it('a port already in use', async () => {
    const first = serve('busy');
    const port = new URL(/(http:\/\/\S+)/.exec(await first.line)?.[1] ?? '').port;
    const { code, stderr } = vrft('serve', '--port', port, '--data', path.join(dir, 'other'));
    const exited = new Promise((resolve) => first.child.on('exit', resolve));
    first.child.kill('SIGTERM');
    await exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${port} is in use: pick another with --port`);
  });

  it('a workspace written by a newer vrft, left untouched', async () => {
    const data = path.join(dir, 'newer');
    const { openStore, workspaceDbPath } = await import('../../src/main/store/db');
    openStore(workspaceDbPath(data)).exec('UPDATE schema_version SET version = 999').close();
    const before = readFileSync(workspaceDbPath(data));
    const { code, stderr } = vrft('serve', '--data', data);
    expect(code).toBe(1);
    expect(stderr).toMatch(/written by a newer vrft \(schema 999/);
    expect(readFileSync(workspaceDbPath(data)).equals(before)).toBe(true);
  });
});
