import { randomBytes } from '../random.js';
import { EnclaveHttpError } from './errors.js';
import { PLAYGROUND_ASSETS, PLAYGROUND_HTML } from './playground-assets.generated.js';

/**
 * The page's policy: its own script and styles by nonce (no inline code, no other origin), requests to
 * this origin only, never framed, no `<base>` or form posts.
 */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

function newNonce(): string {
  return randomBytes(18).toString('base64');
}

/**
 * `GET {path}/playground` and its assets. `rest` is the path below `/playground`: `''` for the page,
 * `/assets/{name}` for a file. Nothing of the request reaches the HTML: the page finds the route from
 * its own URL, and the only value that varies is the response's random nonce.
 */
export function servePlayground(request: Request, rest: string): Response {
  const head = request.method.toUpperCase() === 'HEAD';
  if (rest === '') {
    // `{path}/playground/` would resolve the page's relative asset URLs one level too deep.
    if (new URL(request.url).pathname.endsWith('/')) return new Response(null, { status: 308, headers: { location: '../playground', ...COMMON_HEADERS } });
    const nonce = newNonce();
    return new Response(head ? null : PLAYGROUND_HTML.replaceAll('{{nonce}}', nonce), {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': contentSecurityPolicy(nonce),
        'x-frame-options': 'DENY',
        'cross-origin-opener-policy': 'same-origin',
        ...COMMON_HEADERS,
      },
    });
  }
  const name = rest.startsWith('/assets/') ? rest.slice('/assets/'.length) : undefined;
  const asset = name !== undefined && Object.hasOwn(PLAYGROUND_ASSETS, name) ? PLAYGROUND_ASSETS[name] : undefined;
  if (asset === undefined) throw new EnclaveHttpError(404, 'No such playground file.');
  return new Response(head ? null : asset.body, {
    status: 200,
    headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=31536000, immutable', ...COMMON_HEADERS },
  });
}
