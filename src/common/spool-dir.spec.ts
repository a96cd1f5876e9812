import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolDir } from './spool-dir';

describe('SpoolDir', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'spool-dir-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('has no files before its directory exists', async () => {
    expect(await new SpoolDir(join(root, 'missing')).files()).toEqual([]);
  });

  it('writes each key whole, replaces it, reads it back and removes it', async () => {
    const spool = new SpoolDir<{ n: number }>(join(root, 'a', 'b'));
    await spool.put('CA1', { n: 1 });
    await spool.put('CA1', { n: 2 });
    await spool.put('CA2', { n: 3 });
    expect(readdirSync(join(root, 'a', 'b')).sort()).toEqual(['CA1.json', 'CA2.json']);
    const files = await spool.files();
    expect(await Promise.all(files.map((f) => f.read()))).toEqual(expect.arrayContaining([{ n: 2 }, { n: 3 }]));
    await files[0].remove();
    expect(await spool.files()).toHaveLength(1);
  });

  it('leaves out a temporary file a crash left mid-write, and rejects a file that is not JSON on read', async () => {
    const dir = join(root, 's');
    const spool = new SpoolDir<unknown>(dir);
    await spool.put('ok', 1);
    writeFileSync(join(dir, 'half.json.tmp'), '{"n":');
    writeFileSync(join(dir, 'bad.json'), 'not json');
    const files = await spool.files();
    expect(files.map((f) => f.file).sort()).toEqual(['bad.json', 'ok.json']);
    await expect(files.find((f) => f.file === 'bad.json')!.read()).rejects.toThrow(SyntaxError);
  });
});
