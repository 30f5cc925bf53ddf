import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { EnclaveClientError } from '@enclave-kit/client';
import type { EnclaveClient, EnclaveEvent, ExecutionResult, FollowOptions, RunOptions } from '@enclave-kit/client';
import { useEnclaveClient } from './provider.js';
import type { EnclaveSessionSnapshot, SnapshotBounds } from './session-model.js';
import { EnclaveSessionModel } from './session-model.js';

/**
 * Options of `useEnclaveSession`.
 *
 * @example
 * ```tsx
 * useEnclaveSession({ cancelOnUnmount: true, onEvent: (e) => e.type === 'tool_call' && track(e.payload.tool) });
 * ```
 */
export interface UseEnclaveSessionOptions extends Pick<FollowOptions, 'retry' | 'idleTimeoutMs' | 'format' | 'onRetry'>, SnapshotBounds {
  /** The client to use instead of the `EnclaveProvider`'s. */
  client?: EnclaveClient;
  /** Called with each event as it arrives (before the state shows it). The latest function is used. */
  onEvent?: (event: EnclaveEvent) => void;
  /**
   * Cancel the running session on the server when the component unmounts. Default false: unmounting only
   * stops reading, and the session runs on (attach to it again with `attach(sessionId)`). The cancel
   * request is abandoned if no answer comes within `idleTimeoutMs` (default 45 s).
   */
  cancelOnUnmount?: boolean;
}

/** The options `useEnclaveSession` takes: any other key is a CONFIG_ERROR, as in the client's methods. */
const OPTION_KEYS = ['client', 'onEvent', 'onRetry', 'cancelOnUnmount', 'retry', 'idleTimeoutMs', 'format', 'maxEvents', 'maxLogs', 'maxLength'];

/** The error naming an option the hook does not know (a misspelt `maxEvent`), or undefined. */
function unknownOption(options: object): EnclaveClientError | undefined {
  const key = Object.keys(options).find((k) => !OPTION_KEYS.includes(k));
  return key === undefined ? undefined : new EnclaveClientError({ code: 'CONFIG_ERROR', message: `useEnclaveSession(options): unknown option "${key}"; expected ${OPTION_KEYS.join(', ')}.` });
}

/**
 * What `useEnclaveSession` returns: the session's state and what to do with it.
 *
 * @example
 * ```tsx
 * const { execute, attach, sessionId } = useEnclaveSession();
 * useEffect(() => { const saved = sessionStorage.getItem('run'); if (saved) void attach(saved); }, [attach]);
 * useEffect(() => { if (sessionId) sessionStorage.setItem('run', sessionId); }, [sessionId]);
 * ```
 */
export interface UseEnclaveSessionResult extends EnclaveSessionSnapshot {
  /**
   * Starts a session with `code` and follows it (resuming after dropped connections). Resolves with the
   * result, or `undefined` when none came (see `error`) or another call replaced this one. Never rejects.
   * A session already followed is left running on the server (`cancel()` it first to stop it).
   */
  execute(code: string, options?: Pick<RunOptions, 'input' | 'limits'>): Promise<ExecutionResult | undefined>;
  /** Follows an existing session, e.g. after a reload (from `fromSeq`, default all its events). */
  attach(sessionId: string, options?: { fromSeq?: number }): Promise<ExecutionResult | undefined>;
  /** Cancels the running (or waiting) session on the server; its `final` event (ABORTED) then sets `state: 'cancelled'`. */
  cancel(): Promise<void>;
  /**
   * Approves `pendingApproval` (`state: 'waiting_for_approval'`): the run resumes on the server and is
   * followed on, keeping the events so far. Resolves with the result, or with the next pause's
   * `APPROVAL_REQUIRED`; `undefined` if refused (see `error`). Never rejects.
   */
  approve(): Promise<ExecutionResult | undefined>;
  /** Denies it: the script's call rejects with `APPROVAL_DENIED` and `reason` as its message. Resolves like `approve`. */
  deny(reason?: string): Promise<ExecutionResult | undefined>;
  /** Stops following (the session goes on on the server) and clears the state back to `idle`. */
  reset(): void;
}

/**
 * One enclave session as React state: start it with `execute(code)`, watch `events`, `logs` and `state`
 * as they change, read `result` at the end. Uses the client of the nearest `EnclaveProvider` (or
 * `options.client`). Events are published in batches, never one render per event (see the README), and
 * only the newest are kept (`maxEvents`, `maxLogs`, `maxLength`; `droppedEvents`, `droppedLogs` count
 * the others), so a long or chatty run does not grow the page's memory without end.
 *
 * Unmounting stops reading and cancels nothing, unless `cancelOnUnmount: true`.
 *
 * @example
 * ```tsx
 * function Agent({ code }: { code: string }) {
 *   const { execute, cancel, approve, deny, pendingApproval, isRunning, logs, result, error } = useEnclaveSession();
 *   return (
 *     <>
 *       <button disabled={isRunning} onClick={() => execute(code)}>Run</button>
 *       <button disabled={!isRunning} onClick={cancel}>Stop</button>
 *       <pre>{logs.map((l) => l.message).join('\n')}</pre>
 *       {result?.success && <pre>{JSON.stringify(result.value, null, 2)}</pre>}
 *       {result && !result.success && <p>Failed: {result.error.code}</p>}
 *       {pendingApproval && (
 *         <p>
 *           Allow {pendingApproval.tool} {JSON.stringify(pendingApproval.args)}?
 *           <button onClick={approve}>Approve</button> <button onClick={() => deny('Not now.')}>Deny</button>
 *         </p>
 *       )}
 *       {error && <p>Could not run: {error.message}</p>}
 *     </>
 *   );
 * }
 * ```
 */
export function useEnclaveSession(options: UseEnclaveSessionOptions = {}): UseEnclaveSessionResult {
  const client = useEnclaveClient(options.client);
  const [model] = useState(() => new EnclaveSessionModel());
  const snapshot = useSyncExternalStore(model.subscribe, model.getSnapshot, model.getSnapshot);
  const latest = useRef({ client, options });
  useEffect(() => {
    latest.current = { client, options };
  });
  useEffect(
    () => () => model.detach(latest.current.options.cancelOnUnmount === true),
    [model],
  );
  const modelOptions = () => {
    const o = latest.current.options;
    const refused = unknownOption(o);
    return {
      ...(refused !== undefined && { refused }),
      ...(o.retry !== undefined && { retry: o.retry }),
      ...(o.idleTimeoutMs !== undefined && { idleTimeoutMs: o.idleTimeoutMs }),
      ...(o.format !== undefined && { format: o.format }),
      ...(o.maxEvents !== undefined && { maxEvents: o.maxEvents }),
      ...(o.maxLogs !== undefined && { maxLogs: o.maxLogs }),
      ...(o.maxLength !== undefined && { maxLength: o.maxLength }),
      onEvent: (event: EnclaveEvent) => latest.current.options.onEvent?.(event),
      onRetry: (info: Parameters<NonNullable<FollowOptions['onRetry']>>[0]) => latest.current.options.onRetry?.(info),
    };
  };
  const execute = useCallback(
    (code: string, run: Pick<RunOptions, 'input' | 'limits'> = {}) => model.execute(latest.current.client, code, run, modelOptions()),
    // modelOptions reads `latest` only.
    [model],
  );
  const attach = useCallback(
    (sessionId: string, at: { fromSeq?: number } = {}) => model.attach(latest.current.client, sessionId, at, modelOptions()),
    [model],
  );
  const cancel = useCallback(() => model.cancel(), [model]);
  const reset = useCallback(() => model.reset(), [model]);
  const approve = useCallback(() => model.decide(true, undefined, modelOptions()), [model]);
  const deny = useCallback((reason?: string) => model.decide(false, reason, modelOptions()), [model]);
  return { ...snapshot, execute, attach, cancel, reset, approve, deny };
}
