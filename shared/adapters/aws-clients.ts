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

/**
 * Every call is bounded: a connection that does not open in 2 s, or an answer that does not
 * come in 5 s, fails (the SDK retries it, 3 attempts in all), so an unreachable AWS endpoint —
 * private subnets without NAT or VPC endpoints — answers 503 well inside the function's
 * timeout instead of hanging until Lambda kills it.
 */
export const AWS_CLIENT_OPTIONS = {
  // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes, and waits on.
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
};

export const ssmClient: () => Promise<SSMClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-ssm')).SSMClient(AWS_CLIENT_OPTIONS),
);

export const ec2Client: () => Promise<EC2Client> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-ec2')).EC2Client(AWS_CLIENT_OPTIONS),
);

export const autoScalingClient: () => Promise<AutoScalingClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-auto-scaling')).AutoScalingClient(AWS_CLIENT_OPTIONS),
);

export const lambdaClient: () => Promise<LambdaClient> = /* @__PURE__ */ lazy(
  async () => new (await import('@aws-sdk/client-lambda')).LambdaClient(AWS_CLIENT_OPTIONS),
);
