/**
 * Originals the runtime displaces while it locks the realm: a builtin replaced by a wrapper, a value that
 * an accessor now returns, a removed global. They are no longer reachable from the global object, so
 * lockdown's walk would not freeze them, yet V8 still hands some of them to every script (the original
 * `Array.prototype.values` is the `@@iterator` of every `arguments` object), where an unfrozen one is a
 * mailbox from one run to the next. Everything displaced is recorded here, and lockdown freezes it.
 */
export const displaced: unknown[] = [];

export function displace(value: unknown): void {
  displaced[displaced.length] = value;
}
