import { KubeConfig } from '@kubernetes/client-node';
import type { KubeApiServer } from './kube-api-server.js';

/**
 * The official client's configuration for the in-process server (what a kubeconfig file would say).
 * `token` tells clients apart (the server records requests per token).
 */
export function kubeConfigFor(
  server: KubeApiServer,
  namespace = 'default',
  token = 'test-token',
): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'test', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test', namespace }],
    currentContext: 'test',
  });
  return config;
}
