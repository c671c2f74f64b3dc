/** The contract shared by operator and worker. Both import it from here; neither redefines it. */
export * from './layout.js';
export * from './hive-path.js';
export * from './run-plan.js';
export * from './manifest.js';
export * from './process.js';
export * from './error-kinds.js';
export * from './json.js';
export * from './settle.js';
export * from './output-stats.js';
export * from './drift.js';
