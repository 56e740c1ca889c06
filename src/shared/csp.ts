/**
 * The renderer's Content-Security-Policy: its own scripts and styles only, no inline script, no
 * eval, no remote content. Injected into index.html at build time (the Electron window reads it
 * there) and sent as a header by the engine host (browser mode), which adds frame-ancestors.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
].join('; ');
