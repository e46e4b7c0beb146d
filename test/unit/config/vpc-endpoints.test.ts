import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { deployed, REGION, type Resource, subPseudo, type Template, templateSchema } from './cfn-template';
import { packagedTemplate } from './packaged-template';

/**
 * `vpcEndpoints=true` (serverless.yml param): an interface endpoint, with private DNS, in the
 * functions' subnets, for every AWS service the functions' SDK clients call — the services read
 * from the code (the `@aws-sdk/client-*` packages functions/ and shared/ import) and their
 * endpoint names from the SDK itself — and 443 from the functions' security group to them.
 */
const ROOT = new URL('../../../', import.meta.url).pathname;
const VPC = 'vpc-0123456789abcdef0';
const SUBNETS = 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb';
const GROUPS = 'sg-0cccccccccccccccc,sg-0dddddddddddddddd';
const ON = ['vpcEndpoints=true', `vpcId=${VPC}`, `subnetIds=${SUBNETS}`, `securityGroupIds=${GROUPS}`];

/** The AWS SDK client packages the functions' code imports (types or values), e.g. `client-ssm`. */
function sdkClientPackages(): string[] {
  const found = new Set<string>();
  for (const top of ['functions', 'shared']) {
    const dir = join(ROOT, top);
    for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    )) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/['"]@aws-sdk\/(client-[a-z0-9-]+)['"]/g)) found.add(m[1] ?? '');
    }
  }
  return [...found].sort();
}

const clientModule = z.record(z.string(), z.unknown());
/** What every SDK v3 client has: the endpoint rules of its service, resolved locally. */
interface WithEndpointRules {
  config: { endpointProvider: (params: Record<string, unknown>) => { url: URL } };
}

/**
 * The PrivateLink service a client calls, `com.amazonaws.<region>.<prefix>`: the host prefix of
 * the endpoint the SDK's own endpoint rules give for the region (e.g. autoscaling for
 * client-auto-scaling).
 */
async function endpointServiceOf(pkg: string): Promise<string> {
  const mod = clientModule.parse(await import(`@aws-sdk/${pkg}`));
  const [name] = Object.keys(mod).filter((k) => /^[A-Z]\w*Client$/.test(k));
  const Client = mod[name ?? ''] as new (config: { region: string }) => WithEndpointRules;
  const endpoint = await new Client({ region: REGION }).config.endpointProvider({
    Region: REGION,
    UseFIPS: false,
    UseDualStack: false,
  });
  const host = endpoint.url.hostname;
  expect(host, pkg).toMatch(new RegExp(`^[a-z0-9-]+\\.${REGION}\\.amazonaws\\.com$`));
  return `com.amazonaws.${REGION}.${host.split('.')[0]}`;
}

const ofType = (template: Template, type: string) =>
  [...deployed(template).entries()].filter(([, r]) => r.Type === type);

const serviceName = (r: Resource) =>
  subPseudo(z.object({ 'Fn::Sub': z.string() }).parse(r.Properties.ServiceName)['Fn::Sub']);

describe('vpcEndpoints (serverless.yml param)', () => {
  let on: Template;
  let off: Template;
  beforeAll(async () => {
    off = templateSchema.parse(await packagedTemplate('api'));
    on = templateSchema.parse(await packagedTemplate('api', ON));
  }, 600_000);

  it('false (the default): no endpoint and no security group for them', () => {
    expect(ofType(off, 'AWS::EC2::VPCEndpoint')).toEqual([]);
    expect(ofType(off, 'AWS::EC2::SecurityGroup')).toEqual([]);
  });

  it('true: an interface endpoint for every AWS service the functions SDK clients call, and no other', async () => {
    const packages = sdkClientPackages();
    expect(packages).toContain('client-ssm');
    const needed = await Promise.all(packages.map(endpointServiceOf));
    const endpoints = ofType(on, 'AWS::EC2::VPCEndpoint').map(([, r]) => serviceName(r));
    expect(endpoints.sort()).toEqual([...new Set(needed)].sort());
  });

  it('true: each endpoint in the functions subnets, with private DNS, behind a group open to the functions on 443', () => {
    const functions = ofType(on, 'AWS::Lambda::Function').map(([, r]) => r.Properties.VpcConfig);
    expect(functions.length).toBeGreaterThanOrEqual(7);
    const vpcConfig = z.object({
      SubnetIds: z.object({ 'Fn::Split': z.tuple([z.literal(','), z.string()]) }),
      SecurityGroupIds: z.object({ 'Fn::Split': z.tuple([z.literal(','), z.string()]) }),
    });
    const configs = functions.map((c) => vpcConfig.parse(c));
    for (const c of configs) expect(c).toEqual(configs[0]);
    const subnets = configs[0]?.SubnetIds['Fn::Split'][1].split(',');
    const functionGroups = configs[0]?.SecurityGroupIds['Fn::Split'][1].split(',') ?? [];
    expect(subnets).toEqual(SUBNETS.split(','));

    const groups = new Map(ofType(on, 'AWS::EC2::SecurityGroup'));
    for (const [id, endpoint] of ofType(on, 'AWS::EC2::VPCEndpoint')) {
      const p = endpoint.Properties;
      expect(p, id).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true, VpcId: VPC });
      expect(p.SubnetIds, id).toEqual({ 'Fn::Split': [',', SUBNETS] });
      const [group, ...more] = z.array(z.object({ Ref: z.string() })).parse(p.SecurityGroupIds);
      expect(more, id).toEqual([]);
      const sg = groups.get(group?.Ref ?? '');
      expect(sg?.Properties.VpcId, id).toBe(VPC);
      const ingress = z
        .array(
          z.object({
            IpProtocol: z.string(),
            FromPort: z.number(),
            ToPort: z.number(),
            SourceSecurityGroupId: z.object({
              'Fn::Select': z.tuple([
                z.number(),
                z.object({ 'Fn::Split': z.tuple([z.literal(','), z.string()]) }),
              ]),
            }),
          }),
        )
        .parse(sg?.Properties.SecurityGroupIngress);
      expect(ingress.map(({ IpProtocol, FromPort, ToPort }) => ({ IpProtocol, FromPort, ToPort }))).toEqual([
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443 },
      ]);
      // The source: one of the groups every function's network interface carries.
      const [index, split] = ingress[0]?.SourceSecurityGroupId['Fn::Select'] ?? [
        -1,
        { 'Fn::Split': [',', ''] },
      ];
      expect(functionGroups).toContain(split['Fn::Split'][1].split(',')[index]);
    }
  });
});
