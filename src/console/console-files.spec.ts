import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_CSP, findConsoleDir, setConsoleHeaders } from './console-files';

describe('the console files', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'console-files-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('finds dist/console above the compiled module and above the source alike', () => {
    mkdirSync(join(root, 'dist', 'console'), { recursive: true });
    writeFileSync(join(root, 'dist', 'console', 'index.html'), '<!doctype html>');
    mkdirSync(join(root, 'dist', 'src', 'console'), { recursive: true });
    mkdirSync(join(root, 'src', 'console'), { recursive: true });
    expect(findConsoleDir(join(root, 'dist', 'src', 'console'))).toBe(join(root, 'dist', 'console'));
    expect(findConsoleDir(join(root, 'src', 'console'))).toBe(join(root, 'dist', 'console'));
  });

  it('is not found before it is built (a folder without its page is not a build)', () => {
    mkdirSync(join(root, 'dist', 'console'), { recursive: true });
    mkdirSync(join(root, 'src', 'console'), { recursive: true });
    expect(findConsoleDir(join(root, 'src', 'console'))).toBeNull();
  });

  it('serves the page with a policy that runs only its own scripts, and hashed assets for a year', () => {
    const headers = new Map<string, string>();
    const res = { setHeader: (name: string, value: string) => headers.set(name, value) };
    setConsoleHeaders(res as never, '/app/dist/console/index.html');
    expect(headers.get('Content-Security-Policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(headers.get('Cache-Control')).toBe('no-cache');
    setConsoleHeaders(res as never, '/app/dist/console/assets/index-abc123.js');
    expect(headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
  });
});
