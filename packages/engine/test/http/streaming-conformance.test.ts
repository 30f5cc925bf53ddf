import { fetchCoreHarness } from './contract.js';
import { streamingConformance } from './streaming-conformance.js';

// The Fetch core behind a bare node:http server: what every adapter passes through.
streamingConformance('fetch core + node bridge', fetchCoreHarness);
