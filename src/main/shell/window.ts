/**
 * The Electron window's settings, kept free of Electron imports so a unit test can read them.
 * The page is sandboxed, isolated from the preload, and has no Node.
 */
export function windowOptions(preloadPath: string) {
  return {
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Visual RFT Workbench',
    backgroundColor: '#15171c',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  } as const;
}

/** The page may only ever be our own renderer: its file, or the dev server in development. */
export function isAppUrl(url: string, rendererFile: string, devServerUrl: string | undefined): boolean {
  if (devServerUrl && url.startsWith(devServerUrl)) return true;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'file:' && decodeURIComponent(parsed.pathname) === rendererFile;
  } catch {
    return false;
  }
}

/** Requests the window may make: only its own files (and the dev server's), never the network. */
export function isAllowedRequest(url: string, devServerUrl: string | undefined): boolean {
  if (devServerUrl && (url.startsWith(devServerUrl) || url.startsWith(devServerUrl.replace(/^http/, 'ws')))) {
    return true;
  }
  return /^(file|devtools|data|blob):/.test(url);
}
