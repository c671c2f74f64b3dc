/** The contract shared by operator and worker. Both import it from here; neither redefines it. */
export * from './layout.js';
export * from './plan.js';
export * from './manifest.js';
export * from './process.js';
export * from './errors.js';
export * from './json.js';
