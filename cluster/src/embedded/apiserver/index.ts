/** The embedded Kubernetes API server (see server.ts). */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { Store, type ListOptions, type WatchOptions, type WriteOptions, type KList, type DeleteResult } from './store.js';
export type { ResourceRef } from './registry.js';
export { ApiError, type Status } from './status.js';
export type { FaultRule, FaultMatch, FaultHandle } from './faults.js';
export type { LoggedRequest, RequestFilter } from './requestlog.js';
export type { WatchSink, CloseMode } from './watch.js';
export type { KObject, WatchEvent, DeleteOptions, PropagationPolicy } from './types.js';
export { makeKubeConfig, kubeconfigYaml } from './kubeconfig.js';
