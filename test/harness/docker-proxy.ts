/**
 * A fault-injecting proxy in front of one node's Docker socket, for tests that must see how
 * the functions behave when the Docker API refuses, stalls, errors, or drops an answer after
 * doing the work. Point a function at `proxy.dockerHost` (unix://…) instead of the node's own.
 *
 * How requests are framed: the proxy is an HTTP/1.1 server (Node's parser) on its own unix
 * socket, so every request on a keep-alive connection (dockerode reuses them) is seen, counted
 * and faulted on its own; each one is forwarded on a keep-alive connection of the proxy's own
 * to the real socket. A fault that breaks a connection (`refuse`, `cut`) breaks the client's
 * connection that carried the faulted request; other requests are untouched.
 *
 * Modes, switchable at any time with `setMode`, each call replacing the rule before it
 * (optionally for matching requests only, and only for the next N of them, after which those
 * requests pass again):
 * - `pass`: forward.
 * - `refuse`: read the request head, then destroy the connection without an answer (as a
 *   daemon that accepts and dies). Nothing reaches Docker.
 * - `delay`: hold the request `ms` before forwarding it. If the client gave up meanwhile
 *   (its DOCKER_TIMEOUT_MS), the request is dropped, not forwarded late.
 * - `status500`: answer 500 with a Docker-like JSON error body; nothing reaches Docker.
 * - `cut`: forward the request, wait for Docker's answer (so the request HAS been applied),
 *   then destroy the client's connection instead of answering.
 *
 * `counts()` tallies requests by `METHOD path` with object IDs and names as `:id`; `requests()`
 * lists each one with the fault applied and Docker's status, to count per service or to see
 * which writes Docker applied although the caller never heard so.
 *
 * Nothing here imports vitest, so scripts can use it too.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileMatcher, normaliseRequest, type RequestMatcher, stripPath } from './docker-requests';

export { normaliseRequest, type RequestMatcher, stripPath } from './docker-requests';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'refuse' }
  | { kind: 'delay'; ms: number }
  | { kind: 'status500' }
  | { kind: 'cut' };

/** A request as the proxy saw it. */
export interface ProxiedRequest {
  method: string;
  /** The path without the query and without an API version prefix (`/v1.47`). */
  path: string;
  /** `METHOD path` with object IDs and names replaced by `:id`, e.g. `POST /services/:id/update`. */
  key: string;
  /** What the proxy did with it. */
  fault: FaultMode['kind'];
  /** Docker's status, when it was forwarded and answered. */
  status?: number;
}

export interface SetModeOptions {
  match?: RequestMatcher;
  /** Apply the fault to this many matching requests, then let them pass. */
  times?: number;
}

export interface DockerProxy {
  socketPath: string;
  /** `unix://<socketPath>`: what DOCKER_HOST / createDockerClient take. */
  dockerHost: string;
  /** `pass`, `refuse`, `status500`, `cut`, or `{ kind: 'delay', ms }`. */
  setMode(mode: FaultMode | Exclude<FaultMode['kind'], 'delay'>, options?: SetModeOptions): void;
  /** Requests seen since the last reset, by `METHOD normalised-path`. */
  counts(): Record<string, number>;
  /** Every request seen since the last reset, in order. */
  requests(): readonly ProxiedRequest[];
  resetCounts(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function forwardHeaders(headers: IncomingMessage['headers'], dropTransferEncoding: boolean) {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    // A response body is re-framed by Node (it was de-chunked on the way in).
    if (dropTransferEncoding && name === 'transfer-encoding') continue;
    out[name] = value;
  }
  return out;
}

export async function startDockerProxy(
  targetSocket: string,
  options: {
    /** Where to listen; a socket in a new temp dir by default. Its directory must exist. */
    socketPath?: string;
  } = {},
): Promise<DockerProxy> {
  const dir = options.socketPath === undefined ? mkdtempSync(join(tmpdir(), 'srxproxy-')) : undefined;
  const socketPath = options.socketPath ?? join(dir as string, 'docker.sock');
  const agent = new Agent({ keepAlive: true });
  const log: ProxiedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let rule: { mode: FaultMode; matches: ReturnType<typeof compileMatcher>; left: number } = {
    mode: { kind: 'pass' },
    matches: () => true,
    left: Number.POSITIVE_INFINITY,
  };

  const forward = (req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, cut: boolean) => {
    const upstream = httpRequest(
      {
        socketPath: targetSocket,
        agent,
        method: req.method,
        path: req.url,
        headers: forwardHeaders(req.headers, false),
      },
      (answer) => {
        entry.status = answer.statusCode;
        if (cut) {
          // Docker has done it; the caller never hears so.
          answer.resume();
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, forwardHeaders(answer.headers, true));
        answer.pipe(res);
      },
    );
    // The daemon went away: so does the caller's connection, as with a dead daemon.
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = stripPath(req.url ?? '/');
    const key = normaliseRequest(method, path);
    let mode: FaultMode = { kind: 'pass' };
    if (rule.left > 0 && rule.mode.kind !== 'pass' && rule.matches({ method, path, key })) {
      mode = rule.mode;
      rule.left -= 1;
    }
    const entry: ProxiedRequest = { method, path, key, fault: mode.kind };
    log.push(entry);
    switch (mode.kind) {
      case 'pass':
        return forward(req, res, entry, false);
      case 'cut':
        return forward(req, res, entry, true);
      case 'refuse':
        req.socket.destroy();
        return;
      case 'status500':
        req.resume();
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ message: 'fault proxy: injected server error' })}\n`);
        return;
      case 'delay': {
        // Keep the body in memory while holding, so it can still be forwarded afterwards.
        req.pause();
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (req.socket.destroyed) return;
          req.resume();
          forward(req, res, entry, false);
        }, mode.ms);
        timers.add(timer);
        return;
      }
    }
  });
  // Never close an idle connection under a client about to reuse it: that would be a fault we did not ask for.
  server.keepAliveTimeout = 10 * 60_000;
  server.headersTimeout = 11 * 60_000;
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });

  return {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    setMode(mode, options = {}) {
      rule = {
        mode: typeof mode === 'string' ? ({ kind: mode } as FaultMode) : mode,
        matches: compileMatcher(options.match),
        left: options.times ?? Number.POSITIVE_INFINITY,
      };
    },
    counts() {
      const counts: Record<string, number> = {};
      for (const r of log) counts[r.key] = (counts[r.key] ?? 0) + 1;
      return counts;
    },
    requests: () => [...log],
    resetCounts() {
      log.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => {
          agent.destroy();
          if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
          else rmSync(socketPath, { force: true });
          resolve();
        });
        for (const socket of sockets) socket.destroy();
      }),
  };
}
