/**
 * Jest's globalSetup: builds the S3 server the tests start (SeaweedFS, s3-server.ts), the control
 * plane, helm (the chart tests') and the Kueue manager (the Kueue tests') once, before any test file runs, if the cache lacks them, so that
 * no test's beforeAll waits minutes for a build. A failed build is reported here and again, with its
 * cause, by every test that needs it.
 */
import { buildControlPlane } from '../../cluster/src/control-plane/binaries.js';
import { buildPrometheusTools } from '../prometheus/binaries.js';
import { helmBinary } from '../../cluster/src/tools/helm.js';
import { kueueBinary } from '../../cluster/src/tools/kueue.js';
import { s3ServerBinary } from './s3-server.js';

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  try {
    await s3ServerBinary((i) => process.stderr.write(`\njest: building the tests' S3 server, ${i.module}@${i.version}, into ${i.bin} (minutes, once)\n`));
  } catch (e) {
    process.stderr.write(`\njest: cannot build the tests' S3 server; the S3 tests will fail: ${(e as Error).message}\n`);
  }
  if (Date.now() - started > 1000) process.stderr.write(`jest: S3 server built in ${Math.round((Date.now() - started) / 1000)} s\n`);
  const promStarted = Date.now();
  await buildPrometheusTools({ onBuild: (i) => process.stderr.write(`\njest: building ${i.bin} from ${i.module}@${i.version} (minutes, once)\n`) }).then(
    () => { if (Date.now() - promStarted > 1000) process.stderr.write(`jest: Prometheus tools built in ${Math.round((Date.now() - promStarted) / 1000)} s\n`); },
    (e: Error) => process.stderr.write(`\njest: cannot build promtool and prometheus; the Prometheus tests will fail: ${e.message}\n`),
  );
  const cpStarted = Date.now();
  try {
    await buildControlPlane({ onBuild: (i) => process.stderr.write(`\njest: building ${i.module}@${i.version} into ${i.bin} (minutes, once)\n`) });
    if (Date.now() - cpStarted > 1000) process.stderr.write(`jest: control plane built in ${Math.round((Date.now() - cpStarted) / 1000)} s\n`);
  } catch (e) {
    process.stderr.write(`\njest: cannot build the control plane; the Kubernetes tests will fail: ${(e as Error).message}\n`);
  }
  const helmStarted = Date.now();
  try {
    await helmBinary({ onBuild: (i) => process.stderr.write(`\njest: building helm, ${i.module}@${i.version}, into ${i.bin} (minutes, once)\n`) });
    if (Date.now() - helmStarted > 1000) process.stderr.write(`jest: helm built in ${Math.round((Date.now() - helmStarted) / 1000)} s\n`);
  } catch (e) {
    process.stderr.write(`\njest: cannot build helm; the chart tests (e2e/helm) will fail: ${(e as Error).message}\n`);
  }
  const kueueStarted = Date.now();
  try {
    await kueueBinary({ onBuild: (i) => process.stderr.write(`\njest: building the Kueue manager, ${i.module}@${i.version}, into ${i.bin} (minutes, once)\n`) });
    if (Date.now() - kueueStarted > 1000) process.stderr.write(`jest: Kueue built in ${Math.round((Date.now() - kueueStarted) / 1000)} s\n`);
  } catch (e) {
    process.stderr.write(`\njest: cannot build the Kueue manager; the Kueue tests (e2e/kueue) will fail: ${(e as Error).message}\n`);
  }
}
