/** The built-in resources `bij run` uses besides pods and jobs: events, and the secrets and configmaps a pod's env may name. */
import { jobs } from './jobs.js';
import { pods } from './pods.js';
import { defineResource, type ResourceType } from './resource.js';

export const configmaps = defineResource({ group: '', plural: 'configmaps', kind: 'ConfigMap' });

export const secrets = defineResource({
  group: '', plural: 'secrets', kind: 'Secret',
  /** stringData is write-only: merged into data (base64) and dropped, as the apiserver's conversion does. */
  admit(obj) {
    obj.type ??= 'Opaque';
    if (obj.stringData && typeof obj.stringData === 'object') {
      obj.data = { ...(obj.data ?? {}) };
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    }
    delete obj.stringData;
  },
});

export const events = defineResource({ group: '', plural: 'events', kind: 'Event', allowCreateOnUpdate: true });

export const BUILTINS: ResourceType[] = [pods, events, secrets, configmaps, jobs];
