import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

/**
 * What `npm ci` in a fresh clone relies on: a lock file in step with package.json, listing every
 * platform's optional binaries; no package whose engines exclude the Node versions we claim; and
 * no dependency the project does not use.
 */

const ROOT = join(__dirname, '..');

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly devDependencies?: Record<string, string>;
  readonly engines?: { node?: string } | string[];
  readonly optional?: boolean;
  readonly dev?: boolean;
  readonly bin?: Record<string, string> | string;
}

interface Manifest {
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly overrides?: Record<string, string>;
  readonly engines: { node: string };
  readonly scripts: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const packages = lock.packages;

/** Where npm finds `name` from the package at `from`: its own node_modules, then each parent's. */
function resolveInLock(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(tsx?|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

/** Package names the project's own code imports, requires or resolves. */
function importedPackages(): Set<string> {
  const files = [
    ...sourceFiles(join(ROOT, 'src')),
    ...sourceFiles(join(ROOT, 'test')),
    ...sourceFiles(join(ROOT, 'bench')),
    ...sourceFiles(join(ROOT, 'console')),
    join(ROOT, 'eslint.config.mjs'),
  ];
  const names = new Set<string>();
  // jest's config names its transformer as a plain string.
  for (const match of readFileSync(join(ROOT, 'jest.config.js'), 'utf8').matchAll(/'(@?[a-z0-9][\w./-]*)'/g)) names.add(match[1]);
  const specifier = /(?:from\s+|import\s*\(\s*|import\s+|require(?:\.resolve)?\s*\(\s*)['"]([^'"./][^'"]*)['"]/g;
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
      const spec = match[1];
      if (spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return names;
}

describe('package-lock.json', () => {
  it('records exactly the dependencies package.json declares', () => {
    const root = packages[''];
    expect(root.dependencies).toEqual(manifest.dependencies);
    expect(root.devDependencies).toEqual(manifest.devDependencies);
  });

  it("lists every dependency of every locked package, other platforms' optional binaries included", () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(packages)) {
      const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
      for (const name of Object.keys(wanted)) {
        if (!resolveInLock(path, name)) missing.push(`${path || '(root)'} → ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('holds versions that satisfy the ranges that ask for them (overrides excepted)', () => {
    const overridden = new Set(Object.keys(manifest.overrides ?? {}));
    const mismatched: string[] = [];
    for (const [path, entry] of Object.entries(packages)) {
      for (const [name, wanted] of Object.entries({ ...entry.dependencies, ...entry.optionalDependencies })) {
        if (overridden.has(name)) continue;
        // An alias (npm:real-name@range) is held under its alias with the real package's version.
        const range = wanted.startsWith('npm:') ? wanted.slice(wanted.lastIndexOf('@') + 1) : wanted;
        const found = resolveInLock(path, name);
        const version = found ? packages[found].version : undefined;
        if (found && version && !semver.satisfies(version, range, { includePrerelease: true })) {
          mismatched.push(`${path || '(root)'} wants ${name}@${range}, lock has ${version}`);
        }
      }
    }
    expect(mismatched).toEqual([]);
  });

  it('has no package whose engines refuse a Node version that package.json claims to support', () => {
    const claimed = manifest.engines.node;
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(packages)) {
      if (path === '' || Array.isArray(entry.engines)) continue;
      const needs = entry.engines?.node;
      if (needs && !semver.subset(claimed, needs, { includePrerelease: false })) refusing.push(`${path} needs node ${needs}`);
    }
    expect(refusing).toEqual([]);
  });
});

describe('package.json', () => {
  const imported = importedPackages();
  const scripts = Object.values(manifest.scripts).join(' && ');
  const tsconfigTypes = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { types?: string[] } })
    .compilerOptions.types ?? [];

  /** Installed for someone else: a peer of a used package (typescript for typescript-eslint, @swc/core for @swc/jest). */
  const peerOfUsed = (name: string, used: (n: string) => boolean): boolean =>
    Object.entries(packages).some(([path, entry]) => {
      const owner = path.replace(/^.*node_modules\//, '');
      return path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('node_modules/') &&
        owner !== name && entry.peerDependencies?.[name] !== undefined && used(owner);
    });

  const providesScriptBinary = (name: string): boolean => {
    const bin = packages[`node_modules/${name}`]?.bin;
    const commands = typeof bin === 'string' ? [name.replace(/^@[^/]+\//, '')] : Object.keys(bin ?? {});
    return commands.some((command) => new RegExp(`(^|[\\s&;|])${command}(\\s|$)`).test(scripts));
  };

  const used = (name: string, depth = 0): boolean => {
    if (imported.has(name) || providesScriptBinary(name)) return true;
    if (name.startsWith('@types/')) {
      const typed = name.slice('@types/'.length);
      return tsconfigTypes.includes(typed) || imported.has(typed) || imported.has(typed.replace(/^(.+)__(.+)$/, '@$1/$2'));
    }
    return depth < 2 && peerOfUsed(name, (owner) => used(owner, depth + 1));
  };

  it('lists only dependencies the project uses', () => {
    const all = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)];
    expect(all.filter((name) => !used(name))).toEqual([]);
  });

  it('pins every dependency to one version', () => {
    const all = { ...manifest.dependencies, ...manifest.devDependencies };
    expect(Object.entries(all).filter(([, range]) => !semver.valid(range))).toEqual([]);
  });
});
