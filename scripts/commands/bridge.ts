/** `vmconform bridge`: publish platform events on NATS until Ctrl-C. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { newRunId } from '../../adapters/contract/index.js';
import { configuredPlatforms, loadLabConfig, resolveSecret } from '../../adapters/lab-config.js';
import { connectTarget, type Platform } from '../../adapters/platforms.js';
import { ConfigInvalid } from '../../evidence/errors.js';
import { Transcript } from '../../evidence/transcript.js';
import { runBridge } from '../../features/bridge.js';
import { platformList, sayOut } from '../options.js';

export function registerBridge(program: Command): void {
  program
    .command('bridge')
    .description(
      "publish each platform's events as JSON on NATS subjects <prefix>.<platform>.<kind> (with the platform's task id and timestamps) until Ctrl-C, then print a summary",
    )
    .option('--nats <url>', 'NATS server, e.g. nats://127.0.0.1:4222 (default: nats.url from the config)')
    .option('-c, --config <file>', 'lab config (YAML)', 'lab/lab.local.yaml')
    .option(
      '-p, --platform <list>',
      'comma-separated platforms to bridge (default: every platform in the config)',
      platformList,
    )
    .action(async (opts: { nats?: string; config: string; platform?: Platform[] }) => {
      const { config } = await loadLabConfig(resolve(opts.config));
      const url = opts.nats ?? config.nats?.url;
      if (!url) throw new ConfigInvalid(`--nats: no NATS URL given and ${opts.config} has no nats.url`);
      if (!/^nats:\/\/[^\s/]+$/.test(url)) throw new ConfigInvalid(`--nats '${url}': expected nats://host:port`);
      const token = config.nats?.token ? await resolveSecret(config.nats.token, 'nats.token') : undefined;
      const chosen = opts.platform ?? configuredPlatforms(config);
      const drivers = [];
      for (const p of chosen)
        drivers.push(
          (await connectTarget(p, config.platforms, { runId: newRunId(), transcript: new Transcript() })).driver,
        );
      const ac = new AbortController();
      const stop = () => ac.abort();
      // `on`, not `once`: execa's exit hook re-raises a signal when no other listener is left, killing us before the summary.
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const t0 = Date.now();
      const r = await runBridge({
        bridge: { url, prefix: config.nats?.subjectPrefix ?? 'vmconform', ...(token ? { token } : {}) },
        drivers,
        signal: ac.signal,
        // Its lines are the messages it publishes: the command's data, on stdout.
        say: sayOut,
      });
      for (const d of drivers) await d.close();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      sayOut(`bridge stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.summary}`);
    });
}
