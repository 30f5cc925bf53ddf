// Preloaded (`node --import`) into a server under probe. Asked over IPC, it reports host state that only
// a script escaping the sandbox could change: a host global and Object.prototype.
process.on('message', (message) => {
  if (message !== 'canary?') return;
  process.send?.({ canary: { pid: process.pid, pwned: globalThis.pwned ?? null, polluted: Object.prototype.polluted ?? null } });
});
