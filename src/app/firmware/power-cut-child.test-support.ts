/**
 * A firmware service in a process of its own, for the power-cut tests: it uploads a bundle (and
 * activates the slot), and a TANDEM_CRASH_POINT in its environment kills it on the way
 * (adapters/faults/crash-point.ts). argv: STATE_DIR CONFIG_FILE BUNDLE.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { FirmwareDir } from '../../adapters/firmware/slots.js';
import { loadConfig } from '../../config/load.js';
import { runningFirmware } from './identity.js';
import { FirmwareService } from './service.js';

const [stateDir, configFile, bundle] = process.argv.slice(2);
if (stateDir === undefined || configFile === undefined || bundle === undefined) throw new Error('usage: STATE_DIR CONFIG_FILE BUNDLE');
const loaded = loadConfig(configFile);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const config = loaded.config;
const dir = new FirmwareDir(stateDir);
dir.prepare();
const service = new FirmwareService({
  nodeName: 'a', stateDir, configFile, config: () => config, dir, store: join(stateDir, 'store', 'firmware'),
  running: runningFirmware(dir, {}), status: () => null, log: () => undefined,
});
const up = await service.upload(createReadStream(bundle, { highWaterMark: 64 * 1024 }), null, () => undefined);
const a = await service.activate(up.slot, { override: false, reinstall: false });
process.stdout.write(`${JSON.stringify({ slot: up.slot, activated: a.ok })}\n`);
