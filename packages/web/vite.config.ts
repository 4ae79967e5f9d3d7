import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The dashboard builds to static files in dist/, served by the API under /ui (packages/api
 * src/routes/ui.ts): every asset name carries a content hash, so the API can let browsers keep
 * them for a year, while index.html is revalidated on every load.
 */
// biome-ignore lint/style/noDefaultExport: Vite reads the config's default export.
export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, assetsDir: "assets", sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:3000" } },
});
