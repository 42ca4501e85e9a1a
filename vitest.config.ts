import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ["default"] : ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "packages/*/test/**/*.test.ts",
            "packages/*/src/**/*.test.ts",
            "bench/test/**/*.test.ts",
            "examples/*/test/**/*.test.ts",
          ],
          exclude: ["**/node_modules/**", "packages/console/e2e/**"],
        },
      },
      {
        // The console in Debian's Chromium against a real server: one file at a time, with room for a browser.
        extends: true,
        test: {
          name: "e2e",
          include: ["packages/console/e2e/**/*.test.ts", "examples/*/e2e/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
