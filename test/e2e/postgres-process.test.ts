import { POSTGRES } from '../support/flavors.js';
import { PROCESS_COPY } from '../support/testbed.js';
import { describeLifecycle } from './cases/lifecycle.js';
import { describeArchiveImports } from './cases/postgres-archives.js';

describeLifecycle(PROCESS_COPY, POSTGRES);
describeArchiveImports(PROCESS_COPY);
