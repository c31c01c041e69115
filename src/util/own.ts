/**
 * Lookups by keys that come from outside (a `--platform`, an image's `Env`, a tar type flag) must
 * never reach `Object.prototype`: `table()` makes a lookup table without a prototype, `dict()` an
 * empty map-like object without one, so `__proto__`, `constructor` or `toString` find nothing and
 * can be set like any other key.
 */

/** A frozen lookup table with no prototype. */
export function table<V>(entries: Record<string, V>): Readonly<Partial<Record<string, V>>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, V>, entries));
}

/** An empty object with no prototype, for keys read from untrusted input. */
export function dict<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
