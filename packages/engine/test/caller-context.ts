/**
 * A host-side canary for the async context a run's tools run in: a tool that records the
 * AsyncLocalStorage store it finds beside the user its run was started for (the script passes it on).
 * Used by the engine's isolations (attacks/inv1-async-context.test.ts) and the Redis runtime's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export function callerContextCanary() {
  const als = new AsyncLocalStorage<{ user: string }>();
  const seen: string[] = [];
  const tools = {
    who: async (args: { me?: unknown }) => {
      seen.push(`${String(args.me)}:${als.getStore()?.user ?? 'none'}`);
      return 1;
    },
  };
  const code = `await callTool('who', { me: input.me }); await null; await callTool('who', { me: input.me }); return 1;`;
  return {
    als,
    /** Starts `run` inside the request context of `user`, with the canary's tools and the user as input. */
    runAs: <T>(user: string, run: (code: string, options: { tools: typeof tools; input: { me: string } }) => Promise<T>): Promise<T> => als.run({ user }, () => run(code, { tools, input: { me: user } })),
    /** What the tools found, `<user of the run>:<user of the store>`, sorted. */
    seen: () => seen.toSorted(),
    /** What they find when each run's two calls see its own request. */
    expected: (users: string[]) => users.flatMap((u) => [`${u}:${u}`, `${u}:${u}`]).toSorted(),
  };
}
