import { describe, expect, it } from 'vitest';
import { callNames, calls, eventNames, events } from '../../src/shared/contract';
import { UserError } from '../../src/shared/errors';
import { createDispatch, type Handlers } from '../../src/main/host/dispatch';

const dataset = {
  id: 1,
  name: 'shapes',
  description: '',
  imageCount: 0,
  annotationCount: 0,
  createdAt: 1,
  updatedAt: 1,
};

function handlers(overrides: Partial<Handlers> = {}): Handlers {
  const unused = Object.fromEntries(
    callNames.map((name) => [name, () => Promise.reject(new Error(`${name} is not part of this test`))]),
  ) as unknown as Handlers;
  return {
    ...unused,
    'app.info': () => ({
      version: '0',
      backend: 'unknown',
      dataDir: '/tmp',
      schemaVersion: 1,
      aliveEveryMs: 10_000,
    }),
    'datasets.list': () => [dataset],
    'datasets.create': ({ name, description }) => ({ ...dataset, name, description }),
    'datasets.rename': ({ id, name }) => ({ ...dataset, id, name }),
    'datasets.delete': () => ({ deleted: true as const }),
    'runs.list': () => [],
    'runs.start': () => ({ runId: 1 }),
    'runs.pause': () => ({ ok: true as const }),
    'runs.resume': () => ({ ok: true as const }),
    'runs.cancel': () => ({ ok: true as const }),
    'runs.metrics': () => ({}),
    ...overrides,
  };
}

describe('contract', () => {
  it('declares every call with a zod input and output, and every event with a payload', () => {
    expect(callNames.length).toBeGreaterThan(0);
    for (const name of callNames) {
      expect(typeof calls[name].input.safeParse).toBe('function');
      expect(typeof calls[name].output.safeParse).toBe('function');
    }
    expect(eventNames).toEqual(expect.arrayContaining(['job.progress', 'job.state']));
    for (const name of eventNames) expect(typeof events[name].safeParse).toBe('function');
  });
});

describe('dispatch', () => {
  it('returns the handler value in an ok envelope, with input defaults applied', async () => {
    const dispatch = createDispatch(handlers());
    const result = await dispatch('datasets.create', { name: '  birds ' });
    expect(result).toEqual({ ok: true, value: { ...dataset, name: 'birds', description: '' } });
  });

  it.each([
    ['a missing field', 'datasets.rename', { name: 'x' }, 'id'],
    ['a wrong type', 'datasets.delete', { id: 'one' }, 'id'],
    ['an empty name', 'datasets.create', { name: '   ' }, 'name'],
    ['an unknown key', 'datasets.list', { page: 2 }, 'page'],
    ['not an object', 'datasets.delete', 'x', ''],
  ])('refuses %s with invalid_input naming the field', async (_label, call, input, field) => {
    let ran = false;
    const dispatch = createDispatch(
      handlers({
        'datasets.create': () => {
          ran = true;
          return dataset;
        },
      }),
    );
    const result = await dispatch(call, input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('invalid_input');
    expect(result.error.message).toContain(call);
    expect(result.error.message).toContain(field);
    expect(ran).toBe(false);
  });

  it('answers an unknown call with unknown_call', async () => {
    const result = await createDispatch(handlers())('datasets.explode', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'unknown_call' } });
  });

  it('passes a UserError through with its code and message', async () => {
    const dispatch = createDispatch(
      handlers({
        'datasets.create': () => {
          throw new UserError('conflict', 'A dataset named "x" already exists.');
        },
      }),
    );
    expect(await dispatch('datasets.create', { name: 'x' })).toEqual({
      ok: false,
      error: { code: 'conflict', message: 'A dataset named "x" already exists.' },
    });
  });

  it('turns a thrown bug, sync or async, into an internal envelope instead of crashing', async () => {
    const logged: string[] = [];
    const dispatch = createDispatch(
      handlers({
        'datasets.list': () => {
          throw new TypeError('boom');
        },
        'app.info': async () => {
          await Promise.resolve();
          throw new Error('async boom');
        },
      }),
      (line) => logged.push(line),
    );
    expect(await dispatch('datasets.list', {})).toMatchObject({
      ok: false,
      error: { code: 'internal', message: expect.stringContaining('boom') },
    });
    expect(await dispatch('app.info', {})).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(logged.join('\n')).toContain('TypeError: boom');
  });

  it('refuses a handler result that breaks the output schema', async () => {
    const dispatch = createDispatch(handlers({ 'datasets.list': () => [{ id: 'nope' }] as never }), () => {});
    expect(await dispatch('datasets.list', {})).toMatchObject({ ok: false, error: { code: 'internal' } });
  });
});
