import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { lazy } from './lazy';

/*
 * Every AWS SDK client the functions use, built in this one place: once per container, with
 * the SDK's defaults (region and credentials from the Lambda environment), and only on first
 * use — the client's module is loaded then too, so a request that never needs EC2 never pays
 * for loading it. Each getter is marked pure: a function that does not import one does not
 * bundle its client either.
 */

export const ssmClient: () => Promise<SSMClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-ssm')).SSMClient({}),
);

export const ec2Client: () => Promise<EC2Client> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-ec2')).EC2Client({}),
);

export const autoScalingClient: () => Promise<AutoScalingClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-auto-scaling')).AutoScalingClient({}),
);

export const lambdaClient: () => Promise<LambdaClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-lambda')).LambdaClient({}),
);
