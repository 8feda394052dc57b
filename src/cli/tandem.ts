#!/usr/bin/env node
/**
 * The `tandem` command line. For now: `tandem simulate`, the narrated HA demo on the simulated
 * network. The node daemon and the operator commands arrive with the real-network adapters.
 */
import { Command, Option } from 'commander';
import { TIMING_PROFILE_NAMES, type TimingProfileName } from '../core/timing.js';
import { runDemo } from '../sim/demo.js';

const program = new Command()
  .name('tandem')
  .description('Tandem: two Linux machines, one highly available appliance');

program
  .command('simulate')
  .description('run the HA core on a simulated two-node network and narrate what it decides')
  .addOption(new Option('--profile <name>', 'timing profile').choices(TIMING_PROFILE_NAMES).default('default'))
  .action((opts: { profile: TimingProfileName }) => {
    runDemo(opts.profile, (line) => { console.log(line); });
  });

await program.parseAsync(process.argv);
