/**
 * The session token. Every HTTP request needs it (in the query, or the cookie the first
 * authorised page load sets so that the page's own assets load); every WebSocket needs it in the
 * query, so a page from another origin, which cannot know the token, can never open one.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function sameToken(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cookies are not isolated by port, so the name carries it. */
export function cookieName(port: number): string {
  return `vrft_token_${port}`;
}

export function cookieToken(req: IncomingMessage, port: number): string | undefined {
  const name = cookieName(port);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
