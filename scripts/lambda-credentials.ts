import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles. Lambda always puts the function role's
 * credentials in the environment, so the rest of the Node chain (SSO, INI files, process, IMDS, web identity) is
 * about 100 KB of code a function never runs.
 */
export const defaultProvider = () => fromEnv();
