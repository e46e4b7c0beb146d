/**
 * A real HTTP server on 127.0.0.1 standing in for Slack / a chat webhook: records every
 * POST body, and can be told to fail (answer 500) or to be down (closed).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatReceiver {
  url: string;
  readonly messages: unknown[];
  /** Answer this status to the next requests (200 by default). */
  answer(status: number): void;
  /** Answer each request only after this long (a slow chat service); 0 by default. */
  delay(ms: number): void;
  waitFor(count: number, timeoutMs?: number): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function startChatReceiver(port = 0): Promise<ChatReceiver> {
  const messages: unknown[] = [];
  let status = 200;
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (status === 200) {
        try {
          messages.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          messages.push({ unparsable: Buffer.concat(chunks).toString('utf8') });
        }
      }
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'error');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/hook`,
    messages,
    answer: (s) => {
      status = s;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} chat messages, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
