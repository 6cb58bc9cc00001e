import { POSTGRES } from '../support/flavors.js';
import { PROCESS_COPY } from '../support/testbed.js';
import { describeLifecycle } from './cases/lifecycle.js';

describeLifecycle(PROCESS_COPY, POSTGRES);
