import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { lazy } from './lazy';

/**
 * Every AWS SDK client the functions use, built in this one place: once per container, with
 * the SDK's defaults (region and credentials from the Lambda environment), and only on first
 * use — the client's module is loaded then too (esbuild keeps a dynamic import lazy), so a
 * function whose request never needs EC2 never pays for loading it.
 */
export interface AwsClients {
  ssm(): Promise<SSMClient>;
  ec2(): Promise<EC2Client>;
  autoScaling(): Promise<AutoScalingClient>;
  lambda(): Promise<LambdaClient>;
}

export function awsClients(): AwsClients {
  return {
    ssm: lazy(async () => new (await import('@aws-sdk/client-ssm')).SSMClient({})),
    ec2: lazy(async () => new (await import('@aws-sdk/client-ec2')).EC2Client({})),
    autoScaling: lazy(async () => new (await import('@aws-sdk/client-auto-scaling')).AutoScalingClient({})),
    lambda: lazy(async () => new (await import('@aws-sdk/client-lambda')).LambdaClient({})),
  };
}
