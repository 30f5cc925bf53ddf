/**
 * Which browser pages may call a route: the `Origin` check of the HTTP core's routes and of the MCP
 * route, one rule for both. Requests without `Origin` (every non-browser client) are not a page's.
 * And, for a server without `authenticate`, which names it answers under (`Host`), against DNS
 * rebinding.
 */

/** Origins allowed besides the ones the rule lets in itself, or `'*'` for any. */
export type AllowedOrigins = readonly string[] | '*';

/**
 * Host names a server without `authenticate` answers under besides `localhost` and IP addresses: a name
 * (`app.internal`), a name with a leading dot for it and every name below it (`.example.com`), or
 * `'*'` for any.
 */
export type AllowedHosts = readonly string[] | '*';

/** Calls `fail` unless `value` is absent, `'*'`, or an array of strings that `entry` accepts: the form of both options. */
function checkList(value: unknown, entry: (x: string) => boolean, fail: () => never): void {
  if (value !== undefined && value !== '*' && !(Array.isArray(value) && value.every((x) => typeof x === 'string' && entry(x)))) fail();
}

/** Checks an `allowedOrigins` option (the core's and the MCP route's), calling `fail` when it is neither form. */
export function checkAllowedOrigins(value: unknown, fail: (message: string) => never): void {
  checkList(value, () => true, () => fail('allowedOrigins must be an array of origins ("https://app.example.com") or "*".'));
}

/** Checks an `allowedHosts` option, calling `fail` when it is neither form. */
export function checkAllowedHosts(value: unknown, fail: (message: string) => never): void {
  checkList(value, (x) => HOST_NAME.test(x), () => fail('allowedHosts must be an array of host names without scheme or port ("app.internal", ".example.com" for it and every name below it) or "*".'));
}

/** `text` as a URL, or null where it is none. */
function parsedUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** A host name as `allowedHosts` lists it: DNS labels, a leading dot for the names below. */
const HOST_NAME = /^\.?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/;
/** A `Host` header as a browser sends it: a name or an IPv4 address, or a bracketed IPv6 one, and a port. */
const HOST_HEADER = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * A host name DNS cannot point at another machine for a page: `localhost` and IP addresses (as the URL
 * parser writes them: dotted IPv4, bracketed IPv6). A DNS rebinding attack needs a name it controls.
 */
function unrebindable(hostname: string): boolean {
  return hostname === 'localhost' || hostname.startsWith('[') || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Whether the page that sent `request` (its `Origin`) may call the route: no `Origin`, a listed one, or
 * the request's own origin when no DNS rebinding can be behind it. A rebinding attacker's page sends its
 * own name as both `Origin` and `Host`, so the same origin is proof only for a host no DNS answer can
 * move (`localhost`, an IP address), or under `https:`, where the attacker's name would need this
 * server's certificate. Anything else (another site, `null`, a plain-http DNS name not listed) is not.
 */
export function originAllowed(request: Request, allowed: AllowedOrigins | undefined): boolean {
  const origin = request.headers.get('origin');
  if (origin === null || allowed === '*' || (allowed ?? []).includes(origin)) return true;
  const from = parsedUrl(origin);
  if (from === null || from.host !== new URL(request.url).host) return false;
  return from.protocol === 'https:' || unrebindable(from.hostname);
}

/**
 * Whether a server without `authenticate` may answer `request`, by the name it was addressed by (its
 * `Host`). A DNS rebinding attacker's page points its own name at this server: its requests are then
 * same-origin, and a same-origin `GET` carries no `Origin` for `originAllowed` to refuse, so the page
 * could read the catalog or a session. The name is the tell. `localhost` and IP addresses pass (no DNS
 * answer moves them); so does a name the host listed (`allowedHosts`, or the host of a listed
 * origin), and a request whose page says it is `https:` at this very host (the attacker's name would
 * need this server's certificate). Any other DNS name, or a `Host` no browser sends, does not.
 */
export function hostAllowed(request: Request, allowedHosts: AllowedHosts | undefined, allowedOrigins: AllowedOrigins | undefined): boolean {
  if (allowedHosts === '*') return true;
  const host = request.headers.get('host') ?? new URL(request.url).host;
  // A port past 65535, an IPv4 address past 255, a bad punycode label: no browser sends those.
  const addressed = HOST_HEADER.test(host) ? parsedUrl(`http://${host}`) : null;
  if (addressed === null) return false;
  const { hostname } = addressed;
  if (unrebindable(hostname)) return true;
  for (const entry of allowedHosts ?? []) {
    const name = entry.toLowerCase();
    if (hostname === name || (name.startsWith('.') && (hostname === name.slice(1) || hostname.endsWith(name)))) return true;
  }
  if (allowedOrigins !== undefined && allowedOrigins !== '*' && allowedOrigins.some((origin) => parsedUrl(origin)?.hostname === hostname)) return true;
  const origin = request.headers.get('origin');
  const page = origin === null ? null : parsedUrl(origin);
  return page !== null && page.protocol === 'https:' && page.host === parsedUrl(`https://${host}`)?.host;
}
