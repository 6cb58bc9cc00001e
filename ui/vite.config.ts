import path from 'node:path';
import { defineConfig } from 'vite';

// The web UI, built by `npm run build` into dist/ui, which the controller serves at /ui/.
// Preact through esbuild's automatic JSX runtime: no plugin needed for a page this size.
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.resolve(import.meta.dirname, '../dist/ui'),
    emptyOutDir: true,
    target: 'es2022',
    // The page is small; one script and one stylesheet load fastest and keep the CSP simple.
    modulePreload: false,
    reportCompressedSize: false,
  },
});
