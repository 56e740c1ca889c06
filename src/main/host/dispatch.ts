/**
 * The one helper that turns handlers into contract calls: validate the input, run the handler,
 * validate the output, and always answer with an envelope. A handler's exception never escapes.
 */
import type { z } from 'zod';
import {
  calls,
  isCallName,
  type CallName,
  type CallOutput,
  type Calls,
  type Envelope,
} from '../../shared/contract';
import { UserError } from '../../shared/errors';

export type Handlers = {
  [N in CallName]: (input: z.output<Calls[N]['input']>) => CallOutput<N> | Promise<CallOutput<N>>;
};

export type Dispatch = (name: string, input: unknown) => Promise<Envelope<unknown>>;

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * `explain` turns an exception that is not a bug (the workspace's disk full or read-only, its file
 * damaged) into the message the user reads; other exceptions are reported as vrft's fault.
 */
export function createDispatch(
  handlers: Handlers,
  log: (line: string) => void = () => {},
  explain: (error: unknown) => string | undefined = () => undefined,
): Dispatch {
  return async (name, input) => {
    if (!isCallName(name)) {
      return fail('unknown_call', `There is no call named "${name}".`);
    }
    const contract = calls[name];
    try {
      // Inside the try: a refinement that throws (or an input too deep to walk) is answered too.
      const parsed = contract.input.safeParse(input ?? {});
      if (!parsed.success) {
        return fail('invalid_input', `${name}: ${describeZodError(parsed.error)}`);
      }
      const handler = handlers[name] as (input: unknown) => unknown;
      const value = await handler(parsed.data);
      const checked = contract.output.safeParse(value);
      if (!checked.success) {
        log(`${name}: handler returned an invalid result: ${describeZodError(checked.error)}`);
        return fail('internal', `${name} returned a malformed result; this is a bug in vrft.`);
      }
      return { ok: true, value: checked.data };
    } catch (error) {
      if (error instanceof UserError) return fail(error.code, error.message);
      const explained = explain(error);
      if (explained) return fail('unavailable', explained);
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      const message = error instanceof Error ? error.message : String(error);
      return fail('internal', `${name} failed unexpectedly: ${message}`);
    }
  };
}

function fail(code: UserError['code'], message: string): Envelope<never> {
  return { ok: false, error: { code, message } };
}
