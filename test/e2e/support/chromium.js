// Debian's Chromium for end-to-end tests and benches: where it is, and the flags it needs here
// (no sandbox as root, and nothing that reaches for the network this machine does not have).
import { existsSync } from 'node:fs';

export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p) => !!p && existsSync(p));
  if (!found) throw new Error('Chromium not found: `apt-get install -y chromium`, or set CHROMIUM_PATH.');
  return found;
}
