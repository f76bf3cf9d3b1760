import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration suites start real workerd / Node servers on fixed-free ports; keep files serial on 2 cores.
    fileParallelism: false,
  },
});
