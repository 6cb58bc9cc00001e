/**
 * What the quick start prints once the API answers: where it is, the web UI when this build serves one,
 * the three commands to try next, and how to stop everything.
 */
export function banner(apiUrl: string, uiUrl?: string): string {
  return [
    '',
    `myaas is running. API: ${apiUrl}`,
    ...(uiUrl ? [`Web UI: ${uiUrl}`] : []),
    'Next, in another terminal:',
    '  npx myaas get templates                                  # shop, from specs/shop.yaml',
    '  npx myaas create database mine --template shop --wait    # a database of your own',
    '  npx myaas connect mine                                   # the mariadb client, logged in',
    'To stop everything: npx myaas down (stops the databases you made; alice-shop is stopped in',
    'specs/alice-shop.yaml with state: Stopped), then Ctrl-C here. Ctrl-C alone leaves databases running.',
    '',
  ].join('\n');
}
