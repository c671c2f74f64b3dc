import { ANNOTATION_SCHEDULED_TIME, scheduledTimeOf } from './names.js';

test.each<[string, Record<string, string> | undefined, { scheduledTime?: string }]>([
  ['a schedule\'s job', { [ANNOTATION_SCHEDULED_TIME]: '2026-12-05T01:00:00Z' }, { scheduledTime: '2026-12-05T01:00:00.000Z' }],
  ['no annotations (a job made by hand)', undefined, {}],
  ['an annotation that is not a time', { [ANNOTATION_SCHEDULED_TIME]: 'yesterday' }, {}],
])('scheduledTimeOf: %s', (_n, annotations, expected) => expect(scheduledTimeOf(annotations)).toEqual(expected));
