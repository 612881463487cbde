import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real containers; two cores here.
    maxWorkers: 2,
    // Per user: CI runs the suite as root and again as an unprivileged user.
    cacheDir: `/tmp/launch-vitest-cache-${process.getuid?.() ?? 0}`,
  },
});
