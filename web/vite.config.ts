/**
 * The browser demo: `npm run web` serves it (Vite's dev server), `npm run build:web` writes a
 * static folder, build/web, that works from any path (relative asset URLs).
 */

import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: '../build/web',
    emptyOutDir: true,
  },
  // ES module workers: the worker imports thinnet, whose backend loader is split into chunks,
  // which the default IIFE worker format cannot hold.
  worker: { format: 'es' },
})
