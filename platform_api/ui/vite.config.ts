import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `flowyard up` (FLOWYARD_API_URL, default port 8000).
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "dist", emptyOutDir: true },
  server: { proxy: { "/api": process.env.FLOWYARD_API_URL ?? "http://127.0.0.1:8000" } },
});
