import { KubeConfig } from '@kubernetes/client-node';

/**
 * The client configuration: a kubeconfig file when given, else the library's default order (KUBECONFIG,
 * ~/.kube/config, then the in-cluster service account a Pod gets).
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  if (!config.getCurrentCluster())
    throw new Error(
      'no Kubernetes cluster configured: give --kubeconfig FILE, set KUBECONFIG, or run in a Pod with a service account',
    );
  return config;
}

/** The HTTP status of a failed API call (the client's ApiException puts it in `code`). */
export const httpCode = (error: unknown) => (error as { code?: unknown }).code;
