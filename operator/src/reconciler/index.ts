/** The operator's pure core: observe -> classify -> decide. No I/O, no clock, no environment. */
export * from './types.js';
export * from './names.js';
export * from './runid.js';
export * from './job.js';
export * from './observe.js';
export * from './shards.js';
export * from './failure-policy.js';
export * from './success-policy.js';
export * from './compute-status.js';
export * from './events.js';
export * from './reconcile.js';
export * from './worker-policy.js';
