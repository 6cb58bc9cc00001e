import { DOCKER_BTRFS, PROCESS_COPY } from '../support/testbed.js';
import { describeImportSteps } from './cases/import-steps.js';

describeImportSteps(PROCESS_COPY, 'mariadb');
describeImportSteps(PROCESS_COPY, 'postgres');
describeImportSteps(DOCKER_BTRFS, 'mariadb');
describeImportSteps(DOCKER_BTRFS, 'postgres');
