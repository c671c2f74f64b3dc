#!/usr/bin/env node
// The `bij` command. The TypeScript sources are compiled to dist/ by `npm run build` (npm start and
// npm test do it first).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`bij: needs Node.js 24 or later, and this is ${process.version}. Run it as \`npx bij\` (or npm start) in this `
    + 'project, which use its own Node 24 (node_modules/.bin/node), or install Node 24.');
  process.exit(2);
}
import('../dist/cluster/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cluster')) {
    console.error('bij: not built yet; run `npm run build` first');
    process.exit(2);
  }
  throw err;
});
