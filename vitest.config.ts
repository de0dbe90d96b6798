import { defineConfig } from 'vitest/config'

// vitest runs the TypeScript sources directly (ts/ and test/); nothing needs building first
// except the native binary and the .wasm files the backends load.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Child processes rather than worker threads: each test file gets its own copy of the
    // native addon, as an application would.
    pool: 'forks',
    // The parity sweep runs 10^6-element references; generous, never a timing assertion.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
