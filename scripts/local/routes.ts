/**
 * The HTTP routes served locally, the same paths as the HTTP API routes in serverless.yml
 * (a unit test keeps the two equal). Handlers are imported on first use, after the start
 * script has settled the environment they validate at load.
 */
export interface LocalRoute {
  method: 'POST';
  path: string;
  function: string;
  load: () => Promise<{ handler: (event: unknown) => Promise<LocalResponse> }>;
}

export interface LocalResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

export const routes: readonly LocalRoute[] = [
  {
    method: 'POST',
    path: '/alerts/scale-service',
    function: 'scale-service',
    load: () => import('../../functions/scale-service/handler'),
  },
  {
    method: 'POST',
    path: '/alerts/scale-nodes',
    function: 'scale-nodes',
    load: () => import('../../functions/scale-nodes/handler'),
  },
  {
    method: 'POST',
    path: '/alerts/replace-node',
    function: 'replace-node',
    load: () => import('../../functions/replace-node/handler'),
  },
  {
    method: 'POST',
    path: '/alerts/notify',
    function: 'notify',
    load: () => import('../../functions/notify/handler'),
  },
];
