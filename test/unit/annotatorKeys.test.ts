import { describe, expect, it } from 'vitest';
import { keyAction, type KeyPress } from '../../src/renderer/src/lib/annotatorKeys';

function press(key: string, extra: Partial<KeyPress> = {}): ReturnType<typeof keyAction> {
  const code = /^[0-9]$/.test(key) ? `Digit${key}` : '';
  return keyAction({ key, code, ctrlKey: false, metaKey: false, shiftKey: false, ...extra });
}

describe('the annotator keymap', () => {
  it('reads undo and redo with Ctrl or Cmd, Shift+Z before Z', () => {
    expect(press('z', { ctrlKey: true })).toEqual({ do: 'undo' });
    expect(press('Z', { ctrlKey: true, shiftKey: true })).toEqual({ do: 'redo' });
    expect(press('z', { metaKey: true, shiftKey: true })).toEqual({ do: 'redo' });
    expect(press('y', { ctrlKey: true })).toEqual({ do: 'redo' });
    expect(press('V', { ctrlKey: true, shiftKey: true })).toEqual({ do: 'copy-previous' });
    expect(press('1', { ctrlKey: true })).toEqual({ do: 'actual-size' });
  });

  it('leaves other Ctrl chords to the browser (copy, reload, a plain letter)', () => {
    expect(press('c', { ctrlKey: true })).toBeUndefined();
    expect(press('r', { metaKey: true })).toBeUndefined();
    expect(press('d', { ctrlKey: true })).toBeUndefined();
  });

  it('a number picks a category; Shift with a digit key labels the image by the key, not its character', () => {
    expect(press('3')).toEqual({ do: 'category', index: 2 });
    expect(press('!', { shiftKey: true, code: 'Digit1' })).toEqual({ do: 'label', index: 0 });
    expect(press('"', { shiftKey: true, code: 'Digit2' })).toEqual({ do: 'label', index: 1 });
    expect(press('0')).toEqual({ do: 'fit' });
  });

  it('arrows nudge by one pixel, ten with Shift', () => {
    expect(press('ArrowLeft')).toEqual({ do: 'nudge', dx: -1, dy: 0 });
    expect(press('ArrowDown', { shiftKey: true })).toEqual({ do: 'nudge', dx: 0, dy: 10 });
  });

  it('reads letters in either case and ignores named keys that merely start with one', () => {
    expect(press('d')).toEqual({ do: 'go', direction: 1 });
    expect(press('A')).toEqual({ do: 'go', direction: -1 });
    expect(press('N')).toEqual({ do: 'flag', flag: 'negative' });
    expect(press('w')).toEqual({ do: 'toggle-draw' });
    expect(press('Tab', { shiftKey: true })).toEqual({ do: 'walk-boxes', back: true });
    expect(press('Backspace')).toEqual({ do: 'delete' });
    expect(press('Home')).toBeUndefined();
    expect(press('Enter')).toBeUndefined();
    expect(press('x')).toBeUndefined();
    expect(press('?', { shiftKey: true })).toEqual({ do: 'help' });
  });
});
