import { defineConfig } from 'vitest/config';

/** The shared integration suite runs once per downstream engine: the proxy helper sets `engine` on listeners. */
function integrationProject(engine: 'uws' | 'net' | 'native') {
  return {
    extends: true as const,
    test: { name: `integration-${engine}`, include: ['test/integration/**/*.test.ts'], env: { MANTOU_TEST_ENGINE: engine } },
  };
}

export default defineConfig({
  test: {
    // Separate processes: uWS must never run inside a worker thread that may exit with sockets open.
    pool: 'forks',
    // One temporary root per run, removed at its end (test/temp-root.ts).
    globalSetup: ['test/temp-root.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit-e2e',
          include: [
            'test/unit/**/*.test.ts',
            'test/e2e/**/*.test.ts',
            'test/net-engine/**/*.test.ts',
            'test/native-engine/**/*.test.ts',
            'test/tcp/**/*.test.ts',
          ],
        },
      },
      integrationProject('uws'),
      integrationProject('net'),
      integrationProject('native'),
    ],
  },
});
