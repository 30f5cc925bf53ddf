/**
 * Which browser pages may call a route: the `Origin` check of the HTTP core's routes and of the MCP
 * route, one rule for both. Requests without `Origin` (every non-browser client) are not a page's.
 */

/** Origins allowed besides the ones the rule lets in itself, or `'*'` for any. */
export type AllowedOrigins = readonly string[] | '*';

/** Checks an `allowedOrigins` option (the core's and the MCP route's), calling `fail` when it is neither form. */
export function checkAllowedOrigins(value: unknown, fail: (message: string) => never): void {
  if (value !== undefined && value !== '*' && !(Array.isArray(value) && value.every((x) => typeof x === 'string'))) {
    fail('allowedOrigins must be an array of origins ("https://app.example.com") or "*".');
  }
}

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
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return false;
  }
  if (from.host !== new URL(request.url).host) return false;
  return from.protocol === 'https:' || unrebindable(from.hostname);
}
