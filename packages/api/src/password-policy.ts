import { badParam } from './api-error';

/** ThingsBoard's password policy, the part Rivulet enforces: a minimum (and a sane maximum) length. */
export interface PasswordPolicy {
  /** Characters (Unicode code points) a password needs at least. */
  readonly minLength: number;
}

export const DEFAULT_PASSWORD_MIN_LENGTH = 8;
/** Above this scrypt still works, but nobody types it: refusing keeps a request from hashing megabytes. */
export const PASSWORD_MAX_LENGTH = 256;

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: DEFAULT_PASSWORD_MIN_LENGTH };

/** What is wrong with the password under the policy, or undefined when it passes. */
export function passwordProblem(policy: PasswordPolicy, password: string): string | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return `Password must be at least ${policy.minLength} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  if (password.trim().length === 0) return 'Password must not be blank';
  return undefined;
}

/**
 * The check every endpoint that sets a password calls (user creation, change, reset, activation):
 * throws 400 (errorCode 31, ThingsBoard's answer to a policy violation) naming the rule.
 */
export function checkPassword(policy: PasswordPolicy, password: string): void {
  const problem = passwordProblem(policy, password);
  if (problem !== undefined) throw badParam(problem);
}
