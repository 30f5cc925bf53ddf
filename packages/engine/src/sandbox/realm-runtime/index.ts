/**
 * The realm runtime's entry: `install(bridge, options)` locks the realm it runs in and returns what the
 * host may call between runs. The build (scripts/build-realm-runtime.mjs) bundles this module and its
 * imports into REALM_RUNTIME_SOURCE, evaluated once in every new realm before any script runs; the
 * bundle's wrapper declares the script-scope entry bindings of REALM_ENTRIES and assigns them from what
 * `install` returns.
 */
import type { HostBridge, InstallOptions, RealmControl } from '../realm-abi.js';
import { createCodec } from './codec.js';
import { isEnablementGetter } from './errors.js';
import { connect } from './host.js';
import { lockdown } from './lockdown.js';
import { G, gopn, jsonParse } from './primordials.js';
import { markInflight } from './promises.js';
import { createRunner } from './run.js';

export interface Installed {
  control: RealmControl;
  register(factory: unknown): number;
  start(): void;
  pump(): void;
}

export function install(bridge: HostBridge, optionsText: string): Installed {
  connect(bridge);
  const options = jsonParse(optionsText) as InstallOptions;
  const codec = createCodec();
  codec.setSafeGetter(isEnablementGetter);
  const runner = createRunner(codec);
  const globalCount = lockdown(options, codec);
  return {
    control: {
      end: runner.end,
      forget: runner.forget,
      iterations: runner.iterations,
      quiet: markInflight,
      clean: () => gopn(G).length === globalCount,
    },
    register: runner.register,
    start: runner.start,
    pump: runner.pump,
  };
}
