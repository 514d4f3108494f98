// The Date header value (RFC 9110 §6.6.1, IMF-fixdate), made at most once a second: formatting a date per
// response is measurable at proxy rates, and one-second resolution is all the format has.

let cachedSecond = -1;
let cachedValue = '';

export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedValue = new Date(second * 1000).toUTCString();
  }
  return cachedValue;
}
