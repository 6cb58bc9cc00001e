/** The in-process Kubernetes API server the Kubernetes tests run the product's real client against. */
export { KubeApiServer, type Availability, type KubeApiServerOptions } from './kube-api-server.js';
export type { Obj, StoreEvent } from './object-store.js';
export type { Resource } from './resources.js';
export { kubeConfigFor } from './client-config.js';
