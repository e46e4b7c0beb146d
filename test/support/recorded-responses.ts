/**
 * Records what a handler answers and the log records it writes, reduced to what must survive
 * a change of logger or metrics library: the contract test of the edge compares these with a
 * recording made before the change (test/fixtures/recorded-responses.json).
 */

/** What one call of a handler leaves behind: its answer (or the message it threw) and its records. */
export type Recorded = { response: unknown; records: unknown[] } | { thrown: string; records: unknown[] };

export type LogSink = (line: string) => void;

type Fields = Record<string, unknown>;

/**
 * Runs one call, capturing log lines both ways a logger may write them: through the sink
 * handed to `run` (today's `createLogger({ sink })`) and through process.stdout / process.stderr
 * (a logger that writes with console, as Powertools does: its warn and error go to stderr).
 * Both streams land in one list in the order written; every line that is JSON is kept.
 */
export async function recordCall(run: (sink: LogSink) => Promise<unknown>): Promise<Recorded> {
  const lines: string[] = [];
  const restore = [captureStream(process.stdout, lines), captureStream(process.stderr, lines)];
  let outcome: { response: unknown } | { thrown: string };
  try {
    outcome = { response: describeResponse(await run((line) => lines.push(line))) };
  } catch (error) {
    outcome = { thrown: error instanceof Error ? error.message : String(error) };
  } finally {
    for (const r of restore) r();
  }
  return { ...outcome, records: normaliseRecords(lines) };
}

function captureStream(stream: NodeJS.WriteStream, lines: string[]): () => void {
  const original = stream.write;
  let pending = '';
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  };
  stream.write = write as typeof stream.write;
  return () => {
    stream.write = original;
    if (pending !== '') lines.push(pending);
  };
}

/** An HTTP response with its body parsed; anything else (a scheduled function's result) as JSON. */
export function describeResponse(value: unknown): unknown {
  if (isObject(value) && typeof value.statusCode === 'number') {
    const body = value.body;
    return {
      statusCode: value.statusCode,
      headers: value.headers,
      body: typeof body === 'string' ? parseOr(body, body) : body,
    };
  }
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

const KEPT_MESSAGES = new Set(['request handled', 'request refused', 'invocation done', 'invocation failed']);

/** Keeps audit lines, the edge's request/invocation records and EMF metric records, each normalised. */
export function normaliseRecords(lines: readonly string[]): unknown[] {
  const out: unknown[] = [];
  for (const line of lines) {
    const record = parseOr<unknown>(line.trim(), undefined);
    if (!isObject(record)) continue;
    if (isObject(record._aws)) out.push(normaliseMetric(record));
    else if (record.audit === true || KEPT_MESSAGES.has(String(record.message)))
      out.push(normaliseLog(record));
  }
  return out;
}

/** Fields a logger adds around every record (Powertools names and ours); none is part of the contract. */
const ENVELOPE =
  /^(time|timestamp|ms|cold_?start|function_request_id|function_name|function_arn|function_memory_size|xray_trace_id|sampling_rate)$/i;

/**
 * `service` is both an envelope field (Powertools' service name) and a contract field (the
 * Swarm service an audit line is about, e.g. `service: "demo"`). Only the envelope's value is
 * dropped: Powertools' default and ours (`swarm-reflex…`), or POWERTOOLS_SERVICE_NAME.
 */
function isEnvelopeService(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  return (
    value === 'service_undefined' ||
    value.startsWith('swarm-reflex') ||
    value === process.env.POWERTOOLS_SERVICE_NAME
  );
}

function normaliseLog(record: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(record)) {
    if (ENVELOPE.test(key)) continue;
    if (key === 'service' && isEnvelopeService(value)) continue;
    // The one deliberate change of the move to Powertools, which reserves `service` for its own
    // service name and drops a field of that name: the Swarm service an audit line is about is
    // written as `swarmService` (README, "Logs"). Compared under its old name, so nothing else moves.
    if (key === 'swarmService') {
      out.service = reduceErrors(value);
      continue;
    }
    if (key.toLowerCase() === 'level') {
      out.level = String(value).toLowerCase();
      continue;
    }
    out[key] = reduceErrors(value);
  }
  return out;
}

/** An error as a logger serialises it (ours: name, message, code, stack, cause; Powertools: name, location, message, stack): name and message. */
function reduceErrors(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reduceErrors);
  if (!isObject(value)) return value;
  const looksLikeError =
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    ('stack' in value || 'location' in value);
  if (looksLikeError) return { name: value.name, message: value.message };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reduceErrors(v)]));
}

/**
 * An EMF record reduced to what CloudWatch makes of it: namespace, metric names, dimension
 * names (sorted), the function/kind/reason dimension values and the count. A `service`
 * dimension is ignored on purpose: Powertools Metrics adds one to every metric (its service
 * name), and a line that counts the same outcomes by function, kind and reason is the same
 * contract. Units, the timestamp and any other key are left out. Repeated values of one
 * metric in a line (Powertools writes an array) are summed into the count.
 */
function normaliseMetric(record: Fields): Fields {
  const aws = isObject(record._aws) ? record._aws : {};
  const directives = Array.isArray(aws.CloudWatchMetrics) ? aws.CloudWatchMetrics.filter(isObject) : [];
  const metrics = directives.map((d) => ({
    namespace: d.Namespace,
    names: (Array.isArray(d.Metrics) ? d.Metrics.filter(isObject) : []).map((m) => m.Name),
    dimensions: (Array.isArray(d.Dimensions) ? d.Dimensions.flat() : [])
      .filter((name): name is string => typeof name === 'string' && name !== 'service')
      .sort(),
  }));
  let count = 0;
  for (const name of new Set(metrics.flatMap((m) => m.names))) {
    const value = typeof name === 'string' ? record[name] : undefined;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'number') count += v;
  }
  return { metrics, function: record.function, kind: record.kind, reason: record.reason, count };
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseOr<T>(text: string, fallback: T): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fallback;
  }
}
