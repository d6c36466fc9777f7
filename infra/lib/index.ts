/**
 * sagefront as a CDK construct library: a public HTTPS API in front of a SageMaker endpoint.
 *
 * - {@link SagefrontApi}: the whole service (function, REST API, alarms, dashboard, rollout) in
 *   front of an endpoint you name or create.
 * - The building blocks it composes: {@link SageMakerEndpoint} / {@link ExistingEndpoint},
 *   {@link InferenceFunction}, {@link InferenceApi}, {@link Operations}, {@link FunctionRollout}.
 * - The stage settings of this repository's `cdk.json` (schema, validation, reference table) and
 *   {@link SagefrontStack}, one stage as one stack.
 */
export * from './config';
export * from './constructs/function-rollout';
export * from './constructs/inference-api';
export * from './constructs/inference-function';
export * from './constructs/model-endpoint';
export * from './constructs/operations';
export * from './constructs/sagefront-api';
export * from './sagefront-stack';
