import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// Built with `vite build console`: the root is this folder, the output console/dist, served by the gateway
// under /console/. Everything is bundled: the pages load nothing from outside the gateway.
export default defineConfig({
  base: '/console/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
    // No inlined assets: data: URLs for scripts would need a looser policy.
    assetsInlineLimit: 0,
  },
});
