import { DOCKER_BTRFS } from '../support/testbed.js';
import { describeLifecycle } from './cases/lifecycle.js';

describeLifecycle(DOCKER_BTRFS);
