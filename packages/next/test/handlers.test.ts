import { createServer } from 'node:http';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import { adapterContract, listen } from '../../engine/test/http/contract.js';
import type { NextEnclaveOptions } from '../src/index.js';
import { toNextHandler } from '../src/index.js';

// The exported route handlers called with real Fetch Requests, made from real sockets by the Node
// bridge (the way Next's own server hands a Request to a route). next.test.ts runs a built Next app.
adapterContract('next (exported handlers)', {
  passThrough: false,
  userOf: (native) => (native as Request).headers.get('x-user') ?? undefined,
  async start(options) {
    const { GET, POST, DELETE, handler } = toNextHandler(options as NextEnclaveOptions);
    const methods: Record<string, typeof POST> = { GET, POST, DELETE };
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      // As Next serves app/enclave/[[...route]]/route.ts: the segments below /enclave arrive as params.
      const below = new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter(Boolean).slice(1);
      const params = Promise.resolve(below.length > 0 ? { route: below } : {});
      const route = Object.assign((request: Request) => (methods[request.method] ?? POST)(request, { params }), {
        enclave: handler.enclave,
        maxBodySize: handler.maxBodySize,
        accepts: handler.accepts,
        refuse: handler.refuse,
        dispose: handler.dispose,
      });
      void handleNodeRequest(route, req, res, undefined);
    });
    return listen(server, () => handler.dispose());
  },
});
