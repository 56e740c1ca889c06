import { describe, expect, it } from 'vitest';
import { buildBridge } from '../../src/preload/bridge';
import { isAllowedRequest, isAppUrl, windowOptions } from '../../src/main/shell/window';
import { callNames, eventNames } from '../../src/shared/contract';
import { contentSecurityPolicy } from '../../src/shared/csp';
import { readFileSync } from 'node:fs';
import { defaultDataDir } from '../../src/main/host/paths';
import { bridgeTransport, createClient } from '../../src/shared/client';
import { createDispatch } from '../../src/main/host/dispatch';
import { createHandlers } from '../../src/main/host/handlers';
import { JobSupervisor } from '../../src/main/host/jobs';
import { RewardServers } from '../../src/main/host/scaleOutHandlers';
import { openStore } from '../../src/main/store/db';

describe('Electron window', () => {
  it('is sandboxed, context-isolated and without Node', () => {
    const prefs = windowOptions('/app/preload.cjs').webPreferences;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      preload: '/app/preload.cjs',
    });
  });

  it('only ever shows its own renderer file', () => {
    const file = '/opt/vrft/out/renderer/index.html';
    expect(isAppUrl('file:///opt/vrft/out/renderer/index.html#/train', file, undefined)).toBe(true);
    expect(isAppUrl('file:///etc/passwd', file, undefined)).toBe(false);
    expect(isAppUrl('https://example.com/', file, undefined)).toBe(false);
    expect(isAppUrl('http://localhost:5173/', file, undefined)).toBe(false);
    expect(isAppUrl('http://localhost:5173/', file, 'http://localhost:5173')).toBe(true);
  });

  it('blocks every network request but the dev server', () => {
    expect(isAllowedRequest('file:///opt/vrft/out/renderer/assets/index.js', undefined)).toBe(true);
    expect(isAllowedRequest('https://cdn.example.com/x.js', undefined)).toBe(false);
    expect(isAllowedRequest('http://127.0.0.1:8080/', undefined)).toBe(false);
    expect(isAllowedRequest('ws://localhost:5173/', 'http://localhost:5173')).toBe(true);
  });
});

describe('preload bridge', () => {
  it('exposes exactly one method per contract call, each on its own channel', async () => {
    const invoked: unknown[][] = [];
    const bridge = buildBridge({
      invoke: async (...args) => {
        invoked.push(args);
        return { ok: true, value: null };
      },
      on: () => () => {},
    });
    expect(Object.keys(bridge.calls).sort()).toEqual([...callNames].sort());
    expect(Object.keys(bridge.events).sort()).toEqual([...eventNames].sort());
    await bridge.calls['datasets.list']({});
    await bridge.calls['datasets.delete']({ id: 3 });
    expect(invoked).toEqual([
      ['vrft:call:datasets.list', {}],
      ['vrft:call:datasets.delete', { id: 3 }],
    ]);
    // Nothing generic: no way to name an arbitrary channel from the page.
    expect(Object.keys(bridge).sort()).toEqual(['calls', 'dialogs', 'events', 'onState']);
  });
});

describe('Content-Security-Policy', () => {
  it('allows no inline script, eval or remote origin', () => {
    expect(contentSecurityPolicy).toContain("script-src 'self'");
    expect(contentSecurityPolicy).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });

  it('is written into the renderer page', () => {
    const html = readFileSync('src/renderer/index.html', 'utf8');
    expect(html).toContain('http-equiv="Content-Security-Policy" content="%VRFT_CSP%"');
  });
});

describe('default data folder', () => {
  it('follows each OS convention', () => {
    expect(defaultDataDir({ XDG_DATA_HOME: '/x/data' }, 'linux')).toBe('/x/data/vrft');
    expect(defaultDataDir({}, 'linux')).toMatch(/\.local\/share\/vrft$/);
    expect(defaultDataDir({}, 'darwin')).toMatch(/Library\/Application Support\/vrft$/);
    expect(defaultDataDir({ APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'win32')).toMatch(/vrft$/);
  });
});

describe('the client over the Electron bridge', () => {
  it('works the contract exactly as over WebSocket: values, error codes, events', async () => {
    const db = openStore(':memory:');
    const dispatch = createDispatch(
      createHandlers({
        db,
        dataDir: '/tmp',
        version: 't',
        backend: () => 'unknown',
        broadcast: () => {},
        jobs: new JobSupervisor(
          db,
          '/tmp',
          () => 'no-trainer.js',
          () => {},
        ),
        rewardServers: new RewardServers(db, '/tmp', () => {}),
      }),
      () => {},
    );
    const listeners = new Map<string, (payload: unknown) => void>();
    // What Electron does between the preload and the shell's relay, without Electron.
    const channelPrefix = 'vrft:call:';
    const bridge = buildBridge({
      invoke: (channel, input) => dispatch(channel.slice(channelPrefix.length), input),
      on(channel, listener) {
        listeners.set(channel, listener);
        return () => listeners.delete(channel);
      },
    });
    const client = createClient(bridgeTransport(bridge));

    const made = await client.call('datasets.create', { name: 'via-bridge' });
    expect((await client.call('datasets.list', {})).map((d) => d.id)).toEqual([made.id]);
    await expect(client.call('datasets.create', { name: 'via-bridge' })).rejects.toMatchObject({
      name: 'ContractError',
      code: 'conflict',
    });
    await expect(client.call('datasets.rename', { id: 0, name: 'x' } as never)).rejects.toMatchObject({
      code: 'invalid_input',
    });

    const seen: unknown[] = [];
    client.on('job.progress', (payload) => seen.push(payload));
    listeners.get('vrft:event:job.progress')?.({ runId: 1, step: 2 });
    expect(seen).toEqual([{ runId: 1, step: 2 }]);
    db.close();
  });
});
