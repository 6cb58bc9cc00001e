/**
 * The object model in one place: for each kind its spec, its status (what users read) and its record
 * (the controller's bookkeeping); keys, conditions, and the desired-state interface sources implement.
 */
export * from './conditions.js';
export * from './database.js';
export * from './desired-state.js';
export * from './meta.js';
export * from './schema.js';
export * from './pool.js';
export * from './template.js';
export * from './trash.js';
export * from './api-views.js';
