import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The console's build: served by the service at /console from dist/console (see src/console). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The page's CSP allows no inline script: keep the module preload polyfill out of index.html.
    modulePreload: { polyfill: false },
  },
});
