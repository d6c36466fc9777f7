/**
 * Stage configuration: the settings schema (`schema.ts`), the AWS limits it checks against
 * (`aws-facts.ts`), the per-stage derivation (`stage.ts`) and the settings reference table
 * rendered from the schema (`settings.ts`).
 */
export * from './aws-facts';
export * from './schema';
export * from './settings';
export * from './stage';
