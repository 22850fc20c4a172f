import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ (the CLI tests run the real bin) and makes sure the Debian
    // packages the interop suites need are there, or says loudly why not.
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: the device emulator and the harness share them.
    maxWorkers: 2,
  },
});
