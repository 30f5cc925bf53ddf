import { smokeTest } from '../../shared/smoke.js';

smokeTest('express');
