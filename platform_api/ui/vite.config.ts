import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API to a local `flowyard up` (FLOWYARD_API_URL, default port 8000).
// `npm test` runs the unit tests (src/**/*.test.ts) once, in Node: they cover the UI's logic, not the DOM.
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/api": process.env.FLOWYARD_API_URL ?? "http://127.0.0.1:8000" } },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
