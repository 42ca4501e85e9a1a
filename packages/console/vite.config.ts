import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev -w @roster/console` serves the console with hot reload and forwards API calls to a
// Roster server on :4000 (started with `npm run dev`), so cookies stay same-origin.
const api = process.env.ROSTER_API_URL ?? "http://127.0.0.1:4000";

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  resolve: { dedupe: ["react", "react-dom", "@mantine/core", "@mantine/hooks"] },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: Object.fromEntries(
      ["/v1", "/openapi.json", "/docs", "/healthz", "/readyz"].map((p) => [p, { target: api, changeOrigin: false }]),
    ),
  },
});
