/** Keys whose values are credentials wherever they appear in a config (headers included). */
const SECRET_KEY =
  /(token|secret|password|passwd|passphrase|api[_-]?key|credential|private[_-]?key|authorization|cookie)/i;

export const REDACTED = '<redacted>';

/**
 * A deep copy of `value` with credentials replaced by "<redacted>": values under secret-looking
 * keys (an empty one stays empty, so "not set" is still visible) and the password in a URL's
 * user-info. Meant for showing a config to a person or pasting it into a bug report.
 */
export function redactSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, k)]));
  }
  if (SECRET_KEY.test(key) && value !== '' && value !== null && value !== undefined) return REDACTED;
  if (typeof value === 'string') return redactUrlPassword(value);
  return value;
}

function redactUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(text) || !URL.canParse(text)) return text;
  const url = new URL(text);
  if (url.password === '') return text;
  url.password = REDACTED;
  return url.toString().replace(encodeURIComponent(REDACTED), REDACTED);
}
