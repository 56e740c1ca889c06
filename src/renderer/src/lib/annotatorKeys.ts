/**
 * The annotator's keymap: a key press, read as the action it asks for. Whether the action applies
 * (a box selected, boxes to walk) is the view's to say; this only reads the keys.
 */

export type KeyAction =
  | { do: 'hold-pan' }
  | { do: 'undo' }
  | { do: 'redo' }
  | { do: 'copy-previous' }
  | { do: 'actual-size' }
  | { do: 'toggle-draw' }
  | { do: 'escape' }
  | { do: 'walk-boxes'; back: boolean }
  | { do: 'delete' }
  | { do: 'nudge'; dx: number; dy: number }
  | { do: 'fit' }
  | { do: 'category'; index: number }
  | { do: 'label'; index: number }
  | { do: 'edit-expression' }
  | { do: 'go'; direction: 1 | -1 }
  | { do: 'toggle-hidden' }
  | { do: 'flag'; flag: 'verified' | 'negative' }
  | { do: 'help' }
  | { do: 'search' };

export type KeyPress = Pick<KeyboardEvent, 'key' | 'code' | 'ctrlKey' | 'metaKey' | 'shiftKey'>;

/** Plain letters, either case (Caps Lock on still works). */
const letters: Record<string, KeyAction> = {
  w: { do: 'toggle-draw' },
  b: { do: 'toggle-draw' },
  e: { do: 'edit-expression' },
  d: { do: 'go', direction: 1 },
  a: { do: 'go', direction: -1 },
  h: { do: 'toggle-hidden' },
  v: { do: 'flag', flag: 'verified' },
  n: { do: 'flag', flag: 'negative' },
};

const arrows: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/** The action a key press asks for, or undefined for a key the annotator leaves alone. */
export function keyAction(e: KeyPress): KeyAction | undefined {
  const { key, shiftKey } = e;
  const lower = key.toLowerCase();
  if (key === ' ') return { do: 'hold-pan' };
  if (e.ctrlKey || e.metaKey) {
    if ((shiftKey && lower === 'z') || lower === 'y') return { do: 'redo' };
    if (lower === 'z') return { do: 'undo' };
    if (shiftKey && lower === 'v') return { do: 'copy-previous' };
    if (key === '1') return { do: 'actual-size' };
    return undefined;
  }
  if (key === 'Escape') return { do: 'escape' };
  // Tab / Shift+Tab walks the boxes, so a box can be picked without the mouse.
  if (key === 'Tab') return { do: 'walk-boxes', back: shiftKey };
  if (key === 'Delete' || key === 'Backspace') return { do: 'delete' };
  const arrow = arrows[key];
  if (arrow) {
    const step = shiftKey ? 10 : 1;
    return { do: 'nudge', dx: arrow[0] * step, dy: arrow[1] * step };
  }
  if (key === '0') return { do: 'fit' };
  if (/^[1-9]$/.test(key)) return { do: 'category', index: Number(key) - 1 };
  // By the key's place, not its character: Shift+1 types "!" on most layouts.
  if (shiftKey && /^Digit[1-9]$/.test(e.code)) return { do: 'label', index: Number(e.code.slice(5)) - 1 };
  if (key === '?') return { do: 'help' };
  if (key === '/') return { do: 'search' };
  return key.length === 1 ? letters[lower] : undefined;
}
