import { beforeAll } from 'vitest';
import * as z from 'zod';
import { HTTP_EXPOSURES, type HttpExposure } from '../../../scripts/package';
import { packagedTemplate, PACKAGE_STAGE as STAGE } from './packaged-template';

/**
 * Reading the CloudFormation template `sls package` generates, as CloudFormation would deploy
 * it: only the resources whose Condition holds (serverless.yml's conditions compare values
 * known at package time, e.g. a param with a literal).
 */
export const REGION = 'eu-west-1';

const resourceSchema = z.object({
  Type: z.string(),
  Condition: z.string().optional(),
  Properties: z.record(z.string(), z.unknown()).default({}),
});
export const templateSchema = z.object({
  Conditions: z.record(z.string(), z.unknown()).default({}),
  Resources: z.record(z.string(), resourceSchema),
});
export type Template = z.infer<typeof templateSchema>;
export type Resource = z.infer<typeof resourceSchema>;

const equals = z.object({ 'Fn::Equals': z.tuple([z.string(), z.string()]) });

/** A condition of the template, evaluated: only Fn::Equals of two literals is used (and known) here. */
export function conditionHolds(template: Template, name: string): boolean {
  const parsed = equals.safeParse(template.Conditions[name]);
  if (!parsed.success) throw new Error(`condition ${name} is not Fn::Equals of two literals`);
  const [a, b] = parsed.data['Fn::Equals'];
  return a === b;
}

/** The resources CloudFormation would create, by logical ID. */
export function deployed(template: Template): Map<string, Resource> {
  return new Map(
    Object.entries(template.Resources).filter(
      ([, r]) => r.Condition === undefined || conditionHolds(template, r.Condition),
    ),
  );
}

/** Each function the stack defines: its serverless.yml name → the logical ID of its AWS::Lambda::Function. */
export function stackFunctions(template: Template): Map<string, string> {
  const found = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    found.set(String(r.Properties.FunctionName).replace(`swarm-reflex-${STAGE}-`, ''), id);
  }
  return found;
}

/** CloudFormation's pseudo parameters as `${AWS::Region}` in an Fn::Sub string. */
export function subPseudo(text: string): string {
  return text.replaceAll(`\${AWS::Region}`, REGION);
}

/** In a describe: the template of every httpExposure, packaged (when stale) one after another before its tests. */
export function templatesOfEveryExposure(): (exposure: HttpExposure) => Template {
  const templates = new Map<HttpExposure, Template>();
  beforeAll(async () => {
    // One after another (packagedTemplate also waits for other files' packaging).
    for (const exposure of HTTP_EXPOSURES) {
      templates.set(exposure, templateSchema.parse(await packagedTemplate(exposure)));
    }
  }, 600_000);
  return (exposure) => {
    const t = templates.get(exposure);
    if (!t) throw new Error(`not packaged: ${exposure}`);
    return t;
  };
}
