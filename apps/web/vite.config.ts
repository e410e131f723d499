import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev:web`: Vite's dev server on 5173, proxying the REST and WebSocket API to the server
// (RIVULET_DEV_API, default http://localhost:8080: start it with `npm start`).
const api = process.env.RIVULET_DEV_API ?? 'http://localhost:8080';

export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['source'] },
  server: {
    port: 5173,
    proxy: {
      '/api/ws': { target: api.replace(/^http/, 'ws'), ws: true },
      '/api': { target: api, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/uplot')) return 'uplot';
          // @mantine/dates comes only with the rule-chain node form (through @rjsf/mantine): it stays in that page's chunk.
          if (id.includes('node_modules/@mantine/dates')) return undefined;
          if (id.includes('node_modules/@mantine') || id.includes('node_modules/@floating-ui')) return 'mantine';
          // react itself, not every package whose name starts with react (react-grid-layout belongs to its page).
          if (/node_modules\/(react|react-dom|scheduler)\//.test(id)) return 'react';
          return undefined;
        },
      },
    },
  },
});
