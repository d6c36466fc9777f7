/**
 * sagefront in a stack of your own, in front of a SageMaker endpoint you already run. This file is
 * the example of docs/deploy.md; a test compiles it against the packed npm package.
 */
import { App, CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Period } from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { ExistingEndpoint, FunctionCode, SagefrontApi } from 'sagefront';

class InferenceStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const service = new SagefrontApi(this, 'Inference', {
      // The function may invoke this endpoint and nothing else.
      endpoint: ExistingEndpoint.fromName(this, 'my-endpoint'),
      // The function package `scripts/package` builds in a sagefront checkout (arm64).
      code: FunctionCode.fromPackage('sagefront/target/lambda/sagefront-function/bootstrap.zip'),
      stageName: 'v1',
      timeout: Duration.seconds(20),
      // Settings left out keep the function's defaults (see the settings reference).
      function: { memorySize: 1024, defaultTopK: 5 },
      api: {
        apiKey: { quotaLimit: 50_000, quotaPeriod: Period.DAY },
        throttleRateLimit: 20,
        throttleBurstLimit: 40,
      },
      alarms: { email: 'oncall@example.com', thresholds: { modelLatencyP99Ms: 2000 } },
      functionDeployment: 'canary10Percent5Minutes',
    });

    new CfnOutput(this, 'ApiUrl', { value: service.url });
  }
}

const app = new App();
new InferenceStack(app, 'MyInference');
