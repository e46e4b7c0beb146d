/**
 * A metrics exporter for a real Prometheus to scrape: one HTTP server on 127.0.0.1 serving
 * several targets (one path each) in the Prometheus text format, with the values the test
 * sets. A target can stop answering, as the exporter of a dead machine does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

export interface TestExporter {
  /** `127.0.0.1:<port>`: the scrape target's address. */
  address: string;
  /** Serves `families()` (asked at every scrape) at `path`. */
  serve(path: string, families: () => MetricFamily[]): void;
  /** From now on, a scrape of `path` gets its connection closed without an answer. */
  silence(path: string): void;
  /** How many scrapes `path` answered. */
  scrapes(path: string): number;
  close(): Promise<void>;
}

export async function startExporter(): Promise<TestExporter> {
  const targets = new Map<string, { families: () => MetricFamily[]; silent: boolean; scrapes: number }>();
  const server: Server = createServer((req, res) => {
    const target = targets.get(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (target?.silent) {
      req.socket.destroy();
      return;
    }
    if (!target) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such target\n');
      return;
    }
    target.scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(renderTextFormat(target.families()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const target = (path: string) => {
    const found = targets.get(path);
    if (!found) throw new Error(`the exporter serves nothing at ${path}`);
    return found;
  };
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (path, families) => void targets.set(path, { families, silent: false, scrapes: 0 }),
    silence: (path) => {
      target(path).silent = true;
    },
    scrapes: (path) => target(path).scrapes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The Prometheus text exposition format (version 0.0.4). */
export function renderTextFormat(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const { labels, value } of family.samples) {
      const pairs = Object.entries(labels).map(([name, v]) => `${name}="${escapeLabelValue(v)}"`);
      lines.push(`${family.name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** What cAdvisor reports for the containers of Swarm services: memory used and the memory limit. */
export function cadvisorMemory(
  containers: ReadonlyArray<{ service: string; task: string; usageBytes: number; limitBytes: number }>,
): MetricFamily[] {
  const labels = (c: (typeof containers)[number]) => ({
    id: `/docker/${c.task}`,
    name: c.task,
    image: 'local/busybox:1',
    container_label_com_docker_swarm_service_name: c.service,
    container_label_com_docker_swarm_task_name: c.task,
  });
  return [
    {
      name: 'container_memory_usage_bytes',
      help: 'Current memory usage in bytes, including all memory regardless of when it was accessed',
      type: 'gauge',
      samples: containers.map((c) => ({ labels: labels(c), value: c.usageBytes })),
    },
    {
      name: 'container_spec_memory_limit_bytes',
      help: 'Memory limit for the container.',
      type: 'gauge',
      samples: containers.map((c) => ({ labels: labels(c), value: c.limitBytes })),
    },
  ];
}

/** What node-exporter reports about a machine's memory. */
export function nodeMemory(totalBytes: number, availableBytes: number): MetricFamily[] {
  return [
    {
      name: 'node_memory_MemTotal_bytes',
      help: 'Memory information field MemTotal_bytes.',
      type: 'gauge',
      samples: [{ labels: {}, value: totalBytes }],
    },
    {
      name: 'node_memory_MemAvailable_bytes',
      help: 'Memory information field MemAvailable_bytes.',
      type: 'gauge',
      samples: [{ labels: {}, value: availableBytes }],
    },
  ];
}
