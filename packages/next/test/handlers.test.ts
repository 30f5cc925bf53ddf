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
    const methods: Record<string, (r: Request) => Promise<Response>> = { GET, POST, DELETE };
    const route = Object.assign((request: Request) => (methods[request.method] ?? POST)(request), { enclave: handler.enclave, maxBodySize: handler.maxBodySize, refuse: handler.refuse, dispose: handler.dispose });
    const server = createServer((req, res) => {
      if (req.url === '/other') return void res.end('other');
      void handleNodeRequest(route, req, res, undefined);
    });
    return listen(server, () => handler.dispose());
  },
});
