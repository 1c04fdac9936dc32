/** `vmconform fault-proxy`: a fault-injecting HTTP proxy on loopback in front of a REST platform. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigInvalid } from '../../evidence/errors.js';
import { duration, sayOut } from '../options.js';

export function registerFaultProxy(program: Command): void {
  program
    .command('fault-proxy')
    .description(
      'run the fault-injecting HTTP proxy on loopback in front of a REST platform until Ctrl-C; point the adapter at it with VMCONFORM_VIA_<PLATFORM>=<printed url>',
    )
    .requiredOption('--upstream <url>', 'the real endpoint: http(s)://host:port, or unix:/path/to/socket')
    .requiredOption(
      '--faults <spec>',
      'comma-separated, each kind[=value][*count][@METHOD][:path-regex]; kinds: latency=MS, status=CODE, reset, reset-after-forward, truncate=BYTES, slow-headers=MS (e.g. status=503*2@GET,reset-after-forward*1@POST)',
    )
    .option('--port <n>', 'loopback port (default: a free one)', (v) => Number(v), 0)
    .option('--for <duration>', 'inject faults only this long, then only forward (e.g. 10m)', duration, 600_000)
    .option('--upstream-ca <file>', 'PEM CA to verify an https upstream')
    .option('--upstream-insecure', 'do not verify an https upstream certificate (loopback simulators only)')
    .action(
      async (opts: {
        upstream: string;
        faults: string;
        port: number;
        for: number;
        upstreamCa?: string;
        upstreamInsecure?: boolean;
      }) => {
        const { parseFaults, startFaultProxy } = await import('../../host/fault-proxy.js');
        let rules: ReturnType<typeof parseFaults>;
        try {
          rules = parseFaults(opts.faults);
        } catch (e) {
          throw new ConfigInvalid(`--faults: ${(e as Error).message}`);
        }
        const ca = opts.upstreamCa
          ? await readFile(opts.upstreamCa, 'utf8').catch(() => {
              throw new ConfigInvalid(`--upstream-ca: cannot read ${opts.upstreamCa}`);
            })
          : undefined;
        const proxy = await startFaultProxy({
          upstream: opts.upstream,
          rules,
          port: opts.port,
          activeForMs: opts.for,
          ...(ca ? { upstreamCa: ca } : {}),
          ...(opts.upstreamInsecure ? { upstreamInsecure: true } : {}),
        }).catch((e: unknown) => {
          throw new ConfigInvalid(`fault-proxy: ${(e as Error).message}`);
        });
        // The URL to point an adapter at, and what it did: data, on stdout.
        sayOut(
          `fault proxy on ${proxy.url} -> ${opts.upstream}; e.g. VMCONFORM_VIA_INCUS=${proxy.url} (Ctrl-C to stop)`,
        );
        await new Promise<void>((r) => {
          process.on('SIGINT', () => r());
          process.on('SIGTERM', () => r());
        });
        await proxy.close();
        const faulted = proxy.log.filter((l) => l.fault);
        sayOut(
          `fault proxy stopped: ${proxy.log.length} requests, ${faulted.length} faulted (${faulted.map((l) => `${l.method} ${l.path} ${l.fault}`).join('; ') || 'none'})`,
        );
      },
    );
}
