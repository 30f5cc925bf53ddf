import { createContext, createElement, useContext, useEffect, useMemo, useRef } from 'react';
import type { ReactNode } from 'react';
import { createEnclaveClient } from '@enclave-kit/client';
import type { EnclaveClient, EnclaveClientOptions } from '@enclave-kit/client';

const EnclaveClientContext = createContext<EnclaveClient | undefined>(undefined);

/**
 * `EnclaveProvider`'s props: a client you made, or the options of the one it makes.
 *
 * @example
 * ```tsx
 * <EnclaveProvider client={createEnclaveClient({ url: '/enclave' })}>{children}</EnclaveProvider>
 * ```
 */
export type EnclaveProviderProps =
  | { client: EnclaveClient; options?: never; children?: ReactNode }
  | { options: EnclaveClientOptions; client?: never; children?: ReactNode };

/**
 * Makes an enclave client available to `useEnclaveSession` (and `useEnclaveClient`) below it. Given
 * `options`, it creates the client once, again only when `url`, `credentials`, `format`, `retry` or
 * `idleTimeoutMs` change; `headers` and `fetch` are read from the latest props at every request, so a
 * new token function does not make a new client.
 *
 * @example
 * ```tsx
 * <EnclaveProvider options={{ url: '/api/enclave', headers: () => ({ authorization: `Bearer ${token}` }) }}>
 *   <App />
 * </EnclaveProvider>
 * ```
 */
export function EnclaveProvider(props: EnclaveProviderProps): ReactNode {
  const options = props.options;
  const latest = useRef(options);
  useEffect(() => {
    latest.current = options;
  });
  const made = useMemo(() => {
    if (options === undefined) return undefined;
    const { headers: _headers, fetch: _fetch, ...stable } = options;
    return createEnclaveClient({
      ...stable,
      headers: async () => {
        const headers = latest.current?.headers;
        return (typeof headers === 'function' ? await headers() : headers) ?? {};
      },
      fetch: (input, init) => (latest.current?.fetch ?? globalThis.fetch)(input, init),
    });
    // The client changes with what shapes it; headers and fetch are read through `latest`.
  }, [options === undefined, options && String(options.url), options?.credentials, options?.format, options?.idleTimeoutMs, JSON.stringify(options?.retry)]);
  const client = props.client ?? made;
  if (client === undefined) throw new TypeError('EnclaveProvider needs a client or options: <EnclaveProvider client={client}> or <EnclaveProvider options={{ url }}>.');
  return createElement(EnclaveClientContext.Provider, { value: client }, props.children);
}

/**
 * The client of the nearest `EnclaveProvider`, or `client` when given. Throws when there is neither.
 *
 * @example
 * ```tsx
 * const client = useEnclaveClient();
 * const onClick = async () => setStatus(await client.getSession(id));
 * ```
 */
export function useEnclaveClient(client?: EnclaveClient): EnclaveClient {
  const provided = useContext(EnclaveClientContext);
  const found = client ?? provided;
  if (found === undefined) throw new TypeError('useEnclaveSession/useEnclaveClient: no client. Render inside <EnclaveProvider> or pass { client }.');
  return found;
}
