#!/usr/bin/env node
// The `bij` command. The TypeScript sources are compiled to dist/ by `npm run build` (npm start and
// npm test do it first).
import('../dist/cluster/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cluster')) {
    console.error('bij: not built yet; run `npm run build` first');
    process.exit(2);
  }
  throw err;
});
