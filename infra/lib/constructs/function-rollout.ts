/**
 * Gradual rollout of the function: a CodeDeploy deployment group that shifts the alias from the
 * old version to the new one (canary or linear) and shifts it back when an alarm fires.
 */
import { Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FunctionDeployment } from '../config/aws-facts';

/** cdk.json's `rollout.function` names → CodeDeploy's predefined Lambda configurations. */
export const LAMBDA_DEPLOYMENT_CONFIGS: Readonly<Record<Exclude<FunctionDeployment, 'none'>, codedeploy.ILambdaDeploymentConfig>> = {
  allAtOnce: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
  canary10Percent5Minutes: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
  canary10Percent10Minutes: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_10MINUTES,
  canary10Percent15Minutes: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_15MINUTES,
  canary10Percent30Minutes: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_30MINUTES,
  linear10PercentEvery1Minute: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
  linear10PercentEvery2Minutes: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_2MINUTES,
  linear10PercentEvery3Minutes: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_3MINUTES,
  linear10PercentEvery10Minutes: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES,
};

/** Properties of {@link FunctionRollout}. */
export interface FunctionRolloutProps {
  /** The alias the API invokes. */
  readonly alias: lambda.Alias;
  /** How traffic moves to a new version. */
  readonly deployment: Exclude<FunctionDeployment, 'none'>;
  /** Any of these in ALARM during the deployment stops it and shifts the alias back. */
  readonly rollbackAlarms: readonly cloudwatch.IAlarm[];
}

/** A CodeDeploy application and Lambda deployment group for the alias. */
export class FunctionRollout extends Construct {
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;

  constructor(scope: Construct, id: string, props: FunctionRolloutProps) {
    super(scope, id);
    if (props.rollbackAlarms.length === 0) {
      throw new Error('a gradual rollout needs at least one rollback alarm');
    }
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'DeploymentGroup', {
      alias: props.alias,
      deploymentConfig: LAMBDA_DEPLOYMENT_CONFIGS[props.deployment],
      alarms: [...props.rollbackAlarms],
      autoRollback: { failedDeployment: true, deploymentInAlarm: true, stoppedDeployment: true },
    });
    Validations.of(this.deploymentGroup.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason: 'AWS\'s purpose-built policy for CodeDeploy on Lambda: it may read alarms and move aliases '
        + '(lambda:UpdateAlias and friends) and publish only to CodeDeployTopic_* topics; the "Limited" '
        + 'variant exists to avoid the broader AWSCodeDeployRoleForLambda.',
    });
  }
}
