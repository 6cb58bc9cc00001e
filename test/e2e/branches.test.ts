import { DOCKER_BTRFS, PROCESS_COPY } from '../support/testbed.js';
import { describeBranches } from './cases/branches.js';

describeBranches(PROCESS_COPY, 'mariadb');
describeBranches(PROCESS_COPY, 'postgres');
describeBranches(DOCKER_BTRFS, 'mariadb');
describeBranches(DOCKER_BTRFS, 'postgres');
