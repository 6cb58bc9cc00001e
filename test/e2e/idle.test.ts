import { MARIADB, POSTGRES } from '../support/flavors.js';
import { DOCKER_BTRFS, PROCESS_COPY } from '../support/testbed.js';
import { describeIdle } from './cases/idle.js';

describeIdle(PROCESS_COPY, MARIADB);
describeIdle(PROCESS_COPY, POSTGRES);
describeIdle(DOCKER_BTRFS, MARIADB);
describeIdle(DOCKER_BTRFS, POSTGRES);
