import type { Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { registerActionCommands } from './actions.js';
import { registerApplyCommands, registerValidateCommand } from './apply.js';
import { registerAuthCommands } from './auth.js';
import type { Out } from './common.js';
import { registerConnectCommand } from './connect.js';
import { registerAgentCommand, registerControllerCommand } from './controller.js';
import { registerDiffCommand } from './diff.js';
import { registerGetCommands } from './get.js';
import { registerLifecycleCommands } from './lifecycle.js';

/** Registers every command on the program, in the order `myaas --help` lists them. */
export function registerCommands(program: Command, out: Out = (t) => process.stdout.write(`${t}\n`)): void {
  const context = { client: () => ApiClient.fromEnv(), out };
  registerControllerCommand(program);
  registerAgentCommand(program);
  registerValidateCommand(program, context);
  registerGetCommands(program, context);
  registerApplyCommands(program, context);
  registerLifecycleCommands(program, context);
  registerActionCommands(program, context);
  registerConnectCommand(program, context);
  registerDiffCommand(program, context);
  registerAuthCommands(program, context);
}
