import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Separate processes: uWS must never run inside a worker thread that may exit with sockets open.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
