/**
 * The real control plane for a test file: started once in beforeAll, stopped in afterAll.
 *
 *   const cp = useControlPlane();
 *   test('...', async () => { const clients = makeClients(cp().kubeConfig()); ... });
 *
 * Without binaries the tests fail (never skip), naming the ways to get them.
 */
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../cluster/src/control-plane/launch.js';

export function useControlPlane(o: ControlPlaneOptions = {}): () => ControlPlane {
  let cp: ControlPlane | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      cp = await startControlPlane(o);
    } catch (e) {
      failure = e;
    }
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  }, 60_000);
  return () => {
    if (failure) throw failure;
    if (!cp) throw new Error('the control plane is not started (use it inside a test)');
    if (cp.died) throw new Error(`the control plane broke: ${cp.died}`);
    return cp;
  };
}
