import { smokeTest } from '../../shared/smoke.js';

smokeTest('hono');
