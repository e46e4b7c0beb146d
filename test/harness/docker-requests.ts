/**
 * How the Docker fault proxy names and selects requests: paths without the API version,
 * object IDs and names as `:id`, and `METHOD /path` patterns with `*` for one segment.
 */

/**
 * Which requests a mode applies to: a function, or a pattern `METHOD /path` where `*` stands
 * for one path segment and a missing method matches any (`POST /services/*\/update`, `/nodes/*`).
 */
export type RequestMatcher = string | ((request: { method: string; path: string; key: string }) => boolean);

const COLLECTIONS = new Set([
  'services',
  'nodes',
  'tasks',
  'containers',
  'networks',
  'volumes',
  'secrets',
  'configs',
  'plugins',
  'exec',
]);

/** `/v1.47/services/web/update?version=3` → `/services/web/update`. */
export function stripPath(url: string): string {
  const path = url.split('?')[0] ?? '/';
  return path.replace(/^\/v\d+\.\d+(?=\/)/, '') || '/';
}

/** `POST /services/web/update` → `POST /services/:id/update`: the segment after a collection is an object. */
export function normaliseRequest(method: string, path: string): string {
  const segments = path.split('/');
  const out = segments.map((segment, i) =>
    i > 0 && COLLECTIONS.has(segments[i - 1] ?? '') && segment !== '' && segment !== 'create'
      ? ':id'
      : segment,
  );
  return `${method.toUpperCase()} ${out.join('/')}`;
}

export function compileMatcher(
  match: RequestMatcher | undefined,
): (r: { method: string; path: string; key: string }) => boolean {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  const [first, second] = match.trim().split(/\s+/);
  const method = second === undefined ? undefined : first?.toUpperCase();
  const pattern = second ?? first ?? '';
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+')}$`,
  );
  return (r) => (method === undefined || r.method === method) && regex.test(r.path);
}
