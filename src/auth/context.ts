import { FeatureNotEnabledError } from '../core/errors.js';

export const FEATURES = ['accounting', 'communication'] as const;
export type Feature = (typeof FEATURES)[number];

/** Who is calling: resolved from the API key once per request and passed to every domain call. */
export type AuthContext = {
  tenantId: string;
  applicationId: string;
  applicationName: string;
  features: readonly string[];
  correlationId: string;
};

export function requireFeature(auth: AuthContext, feature: Feature): void {
  if (!auth.features.includes(feature)) throw new FeatureNotEnabledError(feature);
}
