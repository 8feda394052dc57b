/**
 * The firmware service of a node whose daemon does not run (the console menu's rescue path: the
 * web console and the control socket are down, the operator is root on the node). The same
 * FirmwareService the daemon builds, on the same slot store (state_dir/firmware), so "After
 * reboot" is written exactly as the daemon writes it and the launcher reads it at the next start.
 * What needs the running daemon is absent: no status (the HA protocol check warns), no System
 * monitor issues. It must only be used when nothing listens on the control socket: two services
 * on one slot store would not see each other's changes.
 */
import { join } from 'node:path';
import { FirmwareDir } from '../../adapters/firmware/slots.js';
import { fileLog } from '../../adapters/log/file-log.js';
import { jsonLogger } from '../../adapters/log/logger.js';
import { formatConfigError, loadConfig } from '../../config/load.js';
import { LicenseService } from '../license/service.js';
import { syncRoots } from '../sync/roots.js';
import { runningFirmware } from './identity.js';
import { FirmwareService } from './service.js';

export function offlineFirmwareService(configFile: string, nodeName: string): FirmwareService {
  const loaded = loadConfig(configFile);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatConfigError).join('\n'));
  const config = loaded.config;
  const self = config.nodes[nodeName];
  if (self === undefined) throw new Error(`node ${nodeName} is not in ${configFile} (known: ${Object.keys(config.nodes).join(', ')})`);
  const dir = new FirmwareDir(self.stateDir);
  // The firmware the node runs is the one the launcher started last (its record), not this process.
  const current = dir.boot()?.current;
  const running = runningFirmware(dir, current === undefined ? {} : { TANDEM_FIRMWARE_SLOT: String(current.slot), TANDEM_FIRMWARE_INSTALL: current.install });
  // Into the node's own log file (the support bundle reads it), marked as done without the daemon.
  const logFile = fileLog(self.stateDir);
  const log = jsonLogger(nodeName, { write: logFile });
  const roots = syncRoots(self);
  const license = new LicenseService({
    store: roots.get('license') ?? join(self.stateDir, 'store', 'license'), config: () => config, role: () => null,
    log: (level, message) => { log.log(level, 'license', `(console, daemon not running) ${message}`); },
  });
  return new FirmwareService({
    nodeName, stateDir: self.stateDir, configFile, config: () => config, dir,
    store: roots.get('firmware') ?? join(self.stateDir, 'store', 'firmware'), running,
    status: () => null,
    license: (target) => license.checkFor(target),
    log: (level, message) => { log.log(level, 'firmware', `(console, daemon not running) ${message}`); },
  });
}
