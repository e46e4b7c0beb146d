import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { routes } from '../../../scripts/local/routes';
import { HTTP_EXPOSURES } from '../../../scripts/package';
import { templatesOfEveryExposure } from './cfn-template';
import { PACKAGE_STAGE as STAGE } from './packaged-template';

/**
 * What each `httpExposure` puts in the CloudFormation template `sls package` generates: HTTP
 * API routes, public Function URLs, or both, for exactly the HTTP functions.
 */
const HTTP_FUNCTIONS = ['notify', 'replace-node', 'scale-nodes', 'scale-service'];
const OTHER_FUNCTIONS = ['health-sweep', 'node-lifecycle', 'sync-join-tokens'];

const templateSchema = z.object({
  Resources: z.record(
    z.string(),
    z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).default({}) }),
  ),
});
type Template = z.infer<typeof templateSchema>;

/** The function a `{"Fn::GetAtt": [<function's logical ID>, "Arn"]}` names, by its serverless.yml name. */
function functionNamed(template: Template, ref: unknown): string {
  const [logicalId] = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }).parse(ref)[
    'Fn::GetAtt'
  ];
  const name = z.string().parse(template.Resources[logicalId]?.Properties.FunctionName);
  return name.replace(`swarm-reflex-${STAGE}-`, '');
}

function ofType(template: Template, type: string) {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

/** Each function URL: its function, auth type and CORS. */
function urls(template: Template) {
  return ofType(template, 'AWS::Lambda::Url')
    .map(({ Properties: p }) => ({
      fn: functionNamed(template, p.TargetFunctionArn),
      AuthType: p.AuthType,
      Cors: p.Cors,
    }))
    .sort((a, b) => a.fn.localeCompare(b.fn));
}

/** The resource-policy statements that let anyone (principal `*`) in. */
function publicPermissions(template: Template): Array<Record<string, unknown>> {
  return ofType(template, 'AWS::Lambda::Permission')
    .filter((r) => r.Properties.Principal === '*')
    .map(({ Properties: { FunctionName, Principal: _, ...rest } }) => ({
      fn: functionNamed(template, FunctionName),
      ...rest,
    }));
}

/** `POST /path function` for each HTTP API route, through its integration to the function. */
function apiRoutes(template: Template): string[] {
  return ofType(template, 'AWS::ApiGatewayV2::Route')
    .map((route) => {
      const target = z
        .object({ 'Fn::Join': z.tuple([z.literal('/'), z.tuple([z.literal('integrations'), z.unknown()])]) })
        .parse(route.Properties.Target)['Fn::Join'][1][1];
      const integration = template.Resources[z.object({ Ref: z.string() }).parse(target).Ref];
      return `${String(route.Properties.RouteKey)} ${functionNamed(template, integration?.Properties.IntegrationUri)}`;
    })
    .sort();
}

const expectedUrls = HTTP_FUNCTIONS.map((fn) => ({ fn, AuthType: 'NONE', Cors: undefined }));
/** What AWS requires for a public (AuthType NONE) URL since October 2025: both statements, the second scoped to URL calls. */
const expectedPublicPermissions = HTTP_FUNCTIONS.flatMap((fn) => [
  { fn, Action: 'lambda:InvokeFunctionUrl', FunctionUrlAuthType: 'NONE' },
  { fn, Action: 'lambda:InvokeFunction', InvokedViaFunctionUrl: true },
]);
const localRoutes = routes.map((r) => `${r.method} ${r.path} ${r.function}`).sort();

describe('httpExposure (serverless.yml param)', () => {
  const template = templatesOfEveryExposure();

  it('api (the default): an HTTP API route per HTTP function, the ones npm start serves, and no URL', () => {
    expect(apiRoutes(template('api'))).toEqual(localRoutes);
    expect(urls(template('api'))).toEqual([]);
    expect(publicPermissions(template('api'))).toEqual([]);
  });

  it('url: a public Function URL per HTTP function, with both invoke permissions, and no HTTP API', () => {
    const t = template('url');
    expect(urls(t)).toEqual(expectedUrls);
    expect(publicPermissions(t)).toEqual(expect.arrayContaining(expectedPublicPermissions));
    expect(publicPermissions(t)).toHaveLength(expectedPublicPermissions.length);
    expect(Object.values(t.Resources).filter((r) => r.Type.startsWith('AWS::ApiGatewayV2::'))).toEqual([]);
  });

  it('both: the routes and the URLs', () => {
    const t = template('both');
    expect(apiRoutes(t)).toEqual(localRoutes);
    expect(urls(t)).toEqual(expectedUrls);
    expect(publicPermissions(t)).toEqual(expect.arrayContaining(expectedPublicPermissions));
    expect(publicPermissions(t)).toHaveLength(expectedPublicPermissions.length);
  });

  it.each(
    HTTP_EXPOSURES,
  )('%s: anyone may invoke a function only through its URL, and the scheduled functions not at all', (exposure) => {
    // An unscoped lambda:InvokeFunction for `*` would let any AWS account invoke the function
    // directly, where no webhook token is asked for.
    for (const permission of publicPermissions(template(exposure))) {
      expect(OTHER_FUNCTIONS).not.toContain(permission.fn);
      if (permission.Action === 'lambda:InvokeFunction') {
        expect(permission).toMatchObject({ InvokedViaFunctionUrl: true });
      } else {
        expect(permission).toMatchObject({ Action: 'lambda:InvokeFunctionUrl', FunctionUrlAuthType: 'NONE' });
      }
    }
  });
});
