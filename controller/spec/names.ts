/** DNS-1123 label, as Kubernetes names: it becomes part of paths, container names and labels. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const NAME_HELP =
  'lower-case letters, digits and -, starting and ending with a letter or digit, at most 63';

export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'is required';
  if (name.length > 63) return `\`${name}\` is ${name.length} characters long; allowed: ${NAME_HELP}`;
  if (!DNS1123_LABEL.test(name)) return `\`${name}\` is not a valid name; allowed: ${NAME_HELP}`;
  return undefined;
}

export function isValidName(name: unknown): name is string {
  return nameProblem(name) === undefined;
}

/** Throws a clear error unless `name` is a valid object name; call before building any path from it. */
export function assertValidName(name: unknown, what = 'name'): asserts name is string {
  const problem = nameProblem(name);
  if (problem) throw new Error(`${what} ${problem}`);
}
