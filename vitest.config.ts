import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Once per run: says when the rootless half will skip (no test user) and how to enable it.
    globalSetup: ['test/helpers/global-setup.ts'],
    // In the cgroup-v2 guest (test/vm, software emulation) everything runs 10-30x slower.
    testTimeout: process.env.LAUNCH_IN_VM ? 900_000 : 60_000,
    hookTimeout: process.env.LAUNCH_IN_VM ? 900_000 : 60_000,
    // Integration tests start real containers; two cores here.
    maxWorkers: 2,
    // Per user: CI runs the suite as root and again as an unprivileged user.
    cacheDir: `/tmp/launch-vitest-cache-${process.getuid?.() ?? 0}`,
  },
});
