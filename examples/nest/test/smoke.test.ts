import { smokeTest } from '../../shared/smoke.js';

smokeTest('nest');
