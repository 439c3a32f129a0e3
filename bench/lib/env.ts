// The environment a contender's command runs in. node reads NODE_EXTRA_CA_CERTS at every
// start (~80 ms here): suites measure strata both as the user has it and without it.
export const CA_VAR = 'NODE_EXTRA_CA_CERTS';

export const caSet = (): boolean => process.env[CA_VAR] !== undefined;

/** The bench's environment less NODE_EXTRA_CA_CERTS. */
export function withoutCa(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[CA_VAR];
  return env;
}
