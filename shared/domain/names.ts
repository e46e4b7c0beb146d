/**
 * Docker's own naming rules, checked before a label value reaches a Docker API path.
 * Swarm object names follow swarmkit's rule (a DNS label: letters, digits, '-' and '_'
 * between them, at most 63 characters), which also rules out '/', '..', '%2F' and
 * control characters. Service and node IDs are 25 lowercase alphanumerics and pass it too.
 */
// Each repetition ends in exactly one letter or digit, so a string can match in one way only:
// `(?:[-_]*[A-Za-z0-9]+)*` matched the same names but backtracked exponentially on a long
// near-miss (62 letters and a `!` never returned), which any alert label could send.
const swarmName = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9])*$/;

export function isSwarmObjectName(value: string): boolean {
  return value.length <= 63 && swarmName.test(value);
}

/** Shows an untrusted value in a message without letting it forge log lines or flood them. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}
