import { defineConfig } from 'vite'

// config.json is not built in: it is served beside the app (web/serve.mjs locally; the stack's
// outputs when deployed), so one build runs anywhere.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  // amazon-cognito-identity-js's dependencies (buffer) expect Node's `global`.
  define: { global: 'globalThis' },
})
