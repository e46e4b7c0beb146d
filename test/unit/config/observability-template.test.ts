import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { HTTP_EXPOSURES } from '../../../scripts/package';
import { OUTCOME_METRIC } from '../../../shared/edge/metrics';
import {
  conditionHolds,
  deployed,
  type Resource,
  stackFunctions,
  subPseudo,
  type Template,
  templatesOfEveryExposure,
} from './cfn-template';
import { codeCanCount, codeOf, recordedEmf, triple } from './counted-outcomes';

/**
 * The dashboard and the alarms serverless.yml deploys, read from the CloudFormation template
 * `sls package` generates: every metric they name is one that exists — the outcomes the code
 * counts (namespace, metric, dimensions exactly OUTCOME_METRIC; each (function, kind, reason)
 * an alarm waits for one the code can produce) or an AWS metric of a resource of this stack.
 */
const ROOT = new URL('../../../', import.meta.url).pathname;
/** The refusals that need a person at once (issue 14): an alarm for each the code can produce. */
const ALARMING_REASONS = ['quorum-lost', 'storm'];
/** The failure queue's name, as the template references it. */
const FAILURE_QUEUE_NAME = `\${FailureQueue.QueueName}`;

/** One metric a widget or an alarm names; dimension values may be `${LogicalId[.Attr]}` references. */
interface MetricRef {
  where: string;
  namespace: string;
  name: string;
  /** The dimension names, in order (a SEARCH: its schema). */
  dimensionNames: string[];
  /** The dimension values it names (a SEARCH: its key="value" filters). */
  values: Record<string, string>;
}

// --- What the template names ---

const widgetSchema = z.object({
  type: z.string(),
  properties: z.object({ title: z.string().optional(), metrics: z.array(z.array(z.unknown())).optional() }),
});
const dashboardSchema = z.object({ widgets: z.array(widgetSchema) });
const expressionSchema = z.object({ expression: z.string(), id: z.string() });

/** `SEARCH('{Namespace,dim,...} key="value" ...', 'Stat', period)`, every term a key="value" (an exact search). */
function parseSearch(where: string, expression: string): MetricRef {
  const m = /^SEARCH\('\{([^}]+)\}((?:\s+\w+="[^"]*")*)',\s*'\w+',\s*\d+\)$/.exec(expression);
  if (!m) throw new Error(`${where}: not an exact SEARCH: ${expression}`);
  const [namespace = '', ...dimensionNames] = (m[1] ?? '').split(',');
  const terms = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((t) => [t[1], t[2]]));
  const { MetricName: name = '', ...values } = terms;
  return { where, namespace, name, dimensionNames, values: values as Record<string, string> };
}

/** A metric line of a widget: [namespace, name, dim, value, ..., {options}?], or an expression. */
function metricOfLine(where: string, line: unknown[]): MetricRef {
  const expression = expressionSchema.safeParse(line[0]);
  if (expression.success) return parseSearch(where, expression.data.expression);
  const strings = z.array(z.string()).parse(line.filter((x) => typeof x === 'string'));
  // The dashboard shorthand "." (the same as the line above) would hide what is named.
  if (strings.includes('.')) throw new Error(`${where}: "." shorthand`);
  const [namespace = '', name = '', ...pairs] = strings;
  const dimensionNames = pairs.filter((_, i) => i % 2 === 0);
  const values = Object.fromEntries(dimensionNames.map((d, i) => [d, pairs[2 * i + 1] ?? '']));
  return { where, namespace, name, dimensionNames, values };
}

function dashboardOf(template: Template): z.infer<typeof dashboardSchema> {
  const [dashboard, ...others] = [...deployed(template).values()].filter(
    (r) => r.Type === 'AWS::CloudWatch::Dashboard',
  );
  expect(others).toEqual([]);
  const body = z.object({ 'Fn::Sub': z.string() }).parse(dashboard?.Properties.DashboardBody)['Fn::Sub'];
  return dashboardSchema.parse(JSON.parse(subPseudo(body)));
}

/** The `${...}` references of the dashboard body (CloudFormation resolves them at deploy). */
function dashboardReferences(template: Template): string[] {
  const body = JSON.stringify(template.Resources.Dashboard?.Properties.DashboardBody);
  return [...subPseudo(body).matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] ?? '');
}

const refValue = z.union([
  z.string(),
  z.object({ Ref: z.string() }).transform((r) => `\${${r.Ref}}`),
  z
    .object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) })
    .transform((g) => `\${${g['Fn::GetAtt'].join('.')}}`),
]);
const alarmSchema = z.object({
  AlarmName: z.string(),
  Namespace: z.string(),
  MetricName: z.string(),
  Dimensions: z.array(z.object({ Name: z.string(), Value: refValue })),
  Threshold: z.number(),
  ComparisonOperator: z.string(),
  TreatMissingData: z.string(),
  AlarmActions: z.array(z.unknown()),
});

function alarmsOf(template: Template) {
  return [...deployed(template).values()]
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => alarmSchema.parse(r.Properties));
}

function metricsOf(template: Template): MetricRef[] {
  const fromWidgets = dashboardOf(template).widgets.flatMap((w, i) =>
    (w.properties.metrics ?? []).map((line) => metricOfLine(`widget ${i} (${w.properties.title})`, line)),
  );
  const fromAlarms = alarmsOf(template).map((a) => ({
    where: `alarm ${a.AlarmName}`,
    namespace: a.Namespace,
    name: a.MetricName,
    dimensionNames: a.Dimensions.map((d) => d.Name),
    values: Object.fromEntries(a.Dimensions.map((d) => [d.Name, d.Value])),
  }));
  return [...fromWidgets, ...fromAlarms];
}

/** The deployed resource a `${LogicalId}` or `${LogicalId.Attr}` reference names. */
function referenced(template: Template, value: string | undefined): { resource: Resource; attr?: string } {
  const m = /^\$\{(\w+)(?:\.(\w+))?\}$/.exec(value ?? '');
  const resource = m ? deployed(template).get(m[1] ?? '') : undefined;
  if (!resource) throw new Error(`${value} names no resource CloudFormation creates`);
  return { resource, ...(m?.[2] ? { attr: m[2] } : {}) };
}

// --- The tests ---

describe('dashboard and alarms (serverless.yml resources)', () => {
  const template = templatesOfEveryExposure();
  const functionDirs = readdirSync(join(ROOT, 'functions')).filter((d) =>
    existsSync(join(ROOT, 'functions', d, 'handler.ts')),
  );

  it('the recorded metric lines are the shape OUTCOME_METRIC says (what the other checks rely on)', () => {
    const lines = recordedEmf();
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      expect(functionDirs).toContain(line.function);
      expect(line.metrics).toEqual([
        {
          namespace: OUTCOME_METRIC.namespace,
          names: [OUTCOME_METRIC.name],
          dimensions: [...OUTCOME_METRIC.dimensions],
        },
      ]);
    }
  });

  it.each(
    HTTP_EXPOSURES,
  )('%s: every outcome metric named is the one the code emits, of a function of the stack', (exposure) => {
    const t = template(exposure);
    const outcomes = metricsOf(t).filter((m) => m.namespace === OUTCOME_METRIC.namespace);
    expect(outcomes.length).toBeGreaterThan(0);
    for (const m of outcomes) {
      expect(m.name, m.where).toBe(OUTCOME_METRIC.name);
      expect(m.dimensionNames, m.where).toEqual([...OUTCOME_METRIC.dimensions]);
      expect(
        Object.keys(m.values).every((d) => m.dimensionNames.includes(d)),
        m.where,
      ).toBe(true);
      expect([...stackFunctions(t).keys()], m.where).toContain(m.values.function);
      expect(functionDirs, m.where).toContain(m.values.function);
    }
  });

  it.each(
    HTTP_EXPOSURES,
  )('%s: every AWS metric named is of a resource of the stack: its functions, its failure queue, its HTTP API', (exposure) => {
    const t = template(exposure);
    const failureQueues = new Set(
      [...deployed(t).values()]
        .filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig')
        .map((r) => JSON.stringify(r.Properties.DestinationConfig)),
    );
    expect([...failureQueues]).toEqual([
      JSON.stringify({ OnFailure: { Destination: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } }),
    ]);
    const expected: Record<string, { dimension: string; type: string; attr?: string }> = {
      'AWS/Lambda': { dimension: 'FunctionName', type: 'AWS::Lambda::Function' },
      'AWS/SQS': { dimension: 'QueueName', type: 'AWS::SQS::Queue', attr: 'QueueName' },
      'AWS/ApiGateway': { dimension: 'ApiId', type: 'AWS::ApiGatewayV2::Api' },
    };
    for (const m of metricsOf(t).filter((x) => x.namespace !== OUTCOME_METRIC.namespace)) {
      const want = expected[m.namespace];
      if (!want)
        throw new Error(
          `${m.where}: namespace ${m.namespace} is neither the code's nor one of the stack's resources`,
        );
      expect(m.dimensionNames, m.where).toEqual([want.dimension]);
      const { resource, attr } = referenced(t, m.values[want.dimension]);
      expect(resource.Type, m.where).toBe(want.type);
      expect(attr, m.where).toBe(want.attr);
      if (m.namespace === 'AWS/SQS') expect(m.values.QueueName).toBe(FAILURE_QUEUE_NAME);
    }
  });

  it.each(
    HTTP_EXPOSURES,
  )('%s: the dashboard references only resources CloudFormation creates', (exposure) => {
    const t = template(exposure);
    for (const ref of dashboardReferences(t)) referenced(t, `\${${ref}}`);
    const apis = metricsOf(t).filter((m) => m.namespace === 'AWS/ApiGateway');
    const urls = metricsOf(t).filter((m) => m.name === 'Url5xxCount');
    expect(apis.length > 0, 'HTTP API 5xx').toBe(exposure !== 'url');
    expect(urls.length, 'Function URL 5xx').toBe(exposure === 'api' ? 0 : 4);
  });

  it('graphs the outcomes, errors and throttles of every function, and the failure queue', () => {
    const t = template('api');
    const widgets = metricsOf(t).filter((m) => m.where.startsWith('widget'));
    const fns = [...stackFunctions(t).keys()].sort();
    const outcomeGraphs = widgets
      .filter((m) => m.namespace === OUTCOME_METRIC.namespace)
      .map((m) => m.values.function);
    expect(outcomeGraphs.sort()).toEqual(fns);
    for (const metric of ['Errors', 'Throttles']) {
      const graphed = widgets
        .filter((m) => m.namespace === 'AWS/Lambda' && m.name === metric)
        .map((m) => String(referenced(t, m.values.FunctionName).resource.Properties.FunctionName));
      expect(graphed.sort(), metric).toEqual(fns.map((f) => `swarm-reflex-ci-${f}`));
    }
    expect(widgets.filter((m) => m.namespace === 'AWS/SQS').map((m) => m.name)).toEqual([
      'ApproximateNumberOfMessagesVisible',
    ]);
  });

  it('each (function, kind, reason) an alarm waits for is one the code can count', () => {
    const outcomeAlarms = metricsOf(template('api')).filter(
      (m) => m.where.startsWith('alarm') && m.namespace === OUTCOME_METRIC.namespace,
    );
    expect(outcomeAlarms.length).toBeGreaterThan(0);
    for (const m of outcomeAlarms) {
      const { function: fn = '', kind = '', reason = '' } = m.values;
      expect(codeCanCount(fn, kind, reason), `${m.where}: ${triple(fn, kind, reason)}`).toBe(true);
    }
  });

  it('alarms on every quorum-lost or storm refusal the code can produce', () => {
    const alarmed = new Set(
      alarmsOf(template('api'))
        .filter((a) => a.Namespace === OUTCOME_METRIC.namespace)
        .map((a) => Object.fromEntries(a.Dimensions.map((d) => [d.Name, d.Value])))
        .map((d) => `${d.function} ${d.reason}`),
    );
    let found = 0;
    for (const fn of functionDirs) {
      const code = codeOf(fn);
      for (const reason of ALARMING_REASONS.filter((r) => code.values.has(r))) {
        expect(alarmed, `${fn} can refuse with ${reason}`).toContain(`${fn} ${reason}`);
        found++;
      }
    }
    expect(found).toBeGreaterThanOrEqual(2);
  });

  it("alarms on the failure queue and on every function's errors, above zero, and not on missing data", () => {
    const t = template('api');
    const alarms = alarmsOf(t);
    for (const a of alarms) {
      expect(a, a.AlarmName).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    expect(alarms.filter((a) => a.Namespace === 'AWS/SQS').map((a) => a.Dimensions)).toEqual([
      [{ Name: 'QueueName', Value: FAILURE_QUEUE_NAME }],
    ]);
    const errors = alarms
      .filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors')
      .map((a) => String(referenced(t, a.Dimensions[0]?.Value).resource.Properties.FunctionName));
    expect(errors.sort()).toEqual([...stackFunctions(t).keys()].sort().map((f) => `swarm-reflex-ci-${f}`));
  });

  it("notifies the stack's own topic when no alarmTopicArn is given", () => {
    const t = template('api');
    expect(conditionHolds(t, 'CreateAlarmTopic')).toBe(true);
    expect(deployed(t).get('AlarmTopic')?.Type).toBe('AWS::SNS::Topic');
    for (const a of alarmsOf(t)) {
      expect(a.AlarmActions, a.AlarmName).toEqual([
        { 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ''] },
      ]);
    }
  });
});
