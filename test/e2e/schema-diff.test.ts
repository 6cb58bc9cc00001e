import { MARIADB, POSTGRES } from '../support/flavors.js';
import { DOCKER_BTRFS, PROCESS_COPY } from '../support/testbed.js';
import { describeSchemaDiff } from './cases/schema-diff.js';

describeSchemaDiff(PROCESS_COPY, MARIADB);
describeSchemaDiff(PROCESS_COPY, POSTGRES);
describeSchemaDiff(DOCKER_BTRFS, MARIADB);
describeSchemaDiff(DOCKER_BTRFS, POSTGRES);
