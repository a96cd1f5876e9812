/**
 * NestJS 12 packages are ES modules; Node 20 loads them from our CommonJS build natively, but
 * jest's module loader does not, so swc compiles them (and our TypeScript) to CommonJS for tests.
 * @type {import('jest').Config}
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

module.exports = {
  testEnvironment: 'node',
  // Jest's default (one worker fewer than the cores) leaves a two-core machine running one file at
  // a time, while most e2e time is spent waiting on sockets and child processes.
  maxWorkers: Math.max(2, require('node:os').availableParallelism() - 1),
  // e2e tests boot the whole service; a hung wait still fails, with the awaited event named.
  testTimeout: 20_000,
  // In CI a test that fails mid-way must not leave the run waiting on its open sockets forever.
  forceExit: Boolean(process.env.CI),
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  setupFiles: ['reflect-metadata'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  transform: { '^.+\\.(t|j)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|uid|file-type)/)'],
};
