import { fetchCoreHarness } from '../../engine/test/http/contract.js';
import { clientConformance } from './conformance.js';

// The Fetch core behind a bare node:http server; each adapter's test file runs the same suite on its framework.
clientConformance('fetch core + node bridge', fetchCoreHarness);
