/**
 * Builds the CDK app: one {@link SagefrontStack} per configured stage, each checked by cdk-nag's
 * AwsSolutions pack (findings fail synth). `bin/app.ts` and the tests share this entry point.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { StageConfig } from './config';
import { SagefrontStack, SourceLayout } from './sagefront-stack';

/** Adds the cdk-nag AwsSolutions checks to every stack of `app`; a finding fails synthesis. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/** Adds one stack per stage to `app` and returns them in order. */
export function addStages(app: App, stages: readonly StageConfig[], source: SourceLayout): SagefrontStack[] {
  return stages.map((config) => new SagefrontStack(app, config.stackName, {
    stackName: config.stackName,
    description: `sagefront ${config.stageName}: SageMaker endpoint, Rust Lambda and REST API`,
    env: config.env,
    config,
    source,
    tags: { project: 'sagefront', stage: config.stageName },
  }));
}
