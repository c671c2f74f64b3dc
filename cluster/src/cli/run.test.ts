/** `bij run` has no Kueue: a job file's Kueue labels are dropped (suspended shard Jobs would wait for ever). */
import { withoutKueueLabels } from './run.js';

test.each([
  { name: 'no labels', metadata: { name: 'j' }, labels: undefined, removed: [] },
  { name: 'other labels only', metadata: { name: 'j', labels: { team: 'a' } }, labels: { team: 'a' }, removed: [] },
  {
    name: 'queue and priority class',
    metadata: { name: 'j', labels: { team: 'a', 'kueue.x-k8s.io/queue-name': 'team-a', 'kueue.x-k8s.io/priority-class': 'low' } },
    labels: { team: 'a' }, removed: ['kueue.x-k8s.io/queue-name', 'kueue.x-k8s.io/priority-class'],
  },
])('$name', ({ metadata, labels, removed }) => {
  const job = { apiVersion: 'batchinference.dev/v1alpha1', kind: 'BatchInferenceJob', metadata, spec: { shards: 2 } };
  const before = structuredClone(job);
  const r = withoutKueueLabels(job);
  expect(r.removed).toEqual(removed);
  expect(r.job.metadata?.labels).toEqual(labels);
  expect(r.job.spec).toEqual(job.spec);
  expect(job).toEqual(before); // the caller's document is not changed
});
