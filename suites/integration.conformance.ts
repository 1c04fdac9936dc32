/**
 * INT-03: the platform's state changes and task updates reach NATS through the bridge, in order, with
 * the platform's own ids, and the latency from the platform's change to the NATS message is measured.
 */
import { connect, type NatsConnection } from 'nats';
import { describe } from 'vitest';
import { PrereqMissing, type VmRef } from '../adapters/contract/index.js';
import { loadLabConfig, resolveSecret } from '../adapters/lab-config.js';
import { median } from '../evidence/stats.js';
import { NatsBridge } from '../features/bridge.js';
import type { BridgeMessage } from '../features/bridge-message.js';
import { platformTimeMs } from '../features/bridge-message.js';
import { defaultWaitPolicies, waitFor } from '../host/wait.js';
import { baseSpec, currentRun, ownedVms, requirement, stopNow } from './harness.js';

interface Arrival {
  msg: BridgeMessage;
  at: number;
}

/** The lifecycle steps the suite drives, and how any platform's event words name them. */
const steps = [
  { op: 'create', event: /defin|creat|add/i },
  { op: 'start', event: /start|running/i },
  { op: 'stop', event: /stop|shut ?down|destroy|power.?off/i },
  { op: 'delete', event: /undefin|delet|remov/i },
] as const;

describe('integration', () => {
  const vms = ownedVms();

  requirement(
    ['INT-03'],
    'state changes and task updates arrive on NATS in order with the platform ids; change-to-message latency measured',
    async (ctx) => {
      const { t, checks: c } = ctx;
      const { config } = await loadLabConfig(process.env.VMCONFORM_CONFIG ?? 'lab/lab.local.yaml');
      const nats = config.nats;
      if (!nats) return c.event.prereqMissing('NATS server', 'the lab config has no nats section (nats.url)');
      const token = nats.token ? await resolveSecret(nats.token, 'nats.token') : undefined;
      // An unreachable NATS server is the lab's gap, not the platform's failure.
      const bridge = await NatsBridge.connect({
        url: nats.url,
        prefix: nats.subjectPrefix,
        ...(token ? { token } : {}),
        name: `vmconform-int03-${t.runId}`,
      }).catch((e: unknown) => {
        throw new PrereqMissing(`${(e as Error).message} (run \`vmconform lab up nats\` or fix nats.url)`);
      });
      // The consumer has its own connection, as an integration on the other side of NATS would.
      let consumer: NatsConnection | undefined;
      const ac = new AbortController();
      let pump: Promise<number> | undefined;
      try {
        consumer = await connect({ servers: nats.url, ...(token ? { token } : {}), name: 'vmconform-int03-consumer' });
        const stream = await bridge.ensureStream();
        const jsm = stream ? await bridge.nc.jetstreamManager() : undefined;
        const storedBefore = stream ? ((await jsm?.streams.info(stream))?.state.messages ?? 0) : 0;
        const arrivals: Arrival[] = [];
        const decoder = new TextDecoder();
        consumer.subscribe(`${nats.subjectPrefix}.${t.driver.platform}.>`, {
          callback: (err, m) => {
            if (err) return;
            const msg = JSON.parse(decoder.decode(m.data)) as BridgeMessage;
            // Other runs may bridge the same platform onto the same subjects: only this bridge's messages count.
            if (msg.bridge === bridge.id) arrivals.push({ msg, at: Date.now() });
          },
        });
        await consumer.flush();
        if (ctx.caps.events !== 'none') pump = bridge.pump(t.driver, ac.signal);
        const d = bridge.wrap(t.driver);
        // `since`: only messages after that many arrivals (what a later call caused) count.
        const arrived = (what: string, pred: (a: Arrival) => boolean, since = 0) =>
          waitFor(`NATS message: ${what}`, defaultWaitPolicies.device, async () => arrivals.slice(since).find(pred), {
            describeLast: () => arrivals.at(-1)?.msg.subject ?? 'no NATS message yet',
          }).then((r) => r.value);
        const eventOf = (vm: VmRef, re: RegExp) => (a: Arrival) =>
          a.msg.source !== 'receipt' && a.msg.vm === vm.name && a.msg.kind === 'lifecycle' && re.test(a.msg.detail);

        if (ctx.caps.events !== 'none') {
          // A probe VM proves platform -> bridge -> NATS -> consumer is live before the measured changes.
          const probe = (await d.create(baseSpec(ctx.run, 'int3p', { nics: [] }))).result;
          vms.all.push(probe);
          await arrived('probe VM event', (a) => a.msg.source !== 'receipt' && a.msg.vm === probe.name);
          await d.delete(probe);
          vms.all.splice(vms.all.indexOf(probe), 1);
        }

        const mark = arrivals.length;
        // Taken before the call: a create that waits for its VM (20 s on Nova) sees its event meanwhile.
        const createRequested = Date.now();
        const vm = (await ctx.time('create', d.create(baseSpec(ctx.run, 'int3')))).result;
        vms.all.push(vm);
        const requested: Record<string, number> = {};
        const stepFrom: Record<string, number> = {};
        for (const step of steps) {
          // The create step's call ran just before the loop: its messages count from `mark`.
          const since = step.op === 'create' ? mark : arrivals.length;
          stepFrom[step.op] = since;
          requested[step.op] = step.op === 'create' ? createRequested : Date.now();
          if (step.op === 'start') await ctx.time('start', d.start(vm));
          if (step.op === 'stop') await ctx.time('stop', stopNow(d, vm));
          if (step.op === 'delete') {
            await ctx.time('delete', d.delete(vm));
            vms.all.splice(vms.all.indexOf(vm), 1);
          }
          await arrived(`${step.op} task update`, (a) => a.msg.source === 'receipt' && a.msg.op === step.op, since);
          if (ctx.caps.events !== 'none') await arrived(`${step.op} event`, eventOf(vm, step.event), since);
        }
        // Everything the bridge published has reached the consumer: nothing lost on the way.
        await bridge.nc.flush();
        await waitFor('every published message at the consumer', defaultWaitPolicies.device, async () =>
          arrivals.length >= bridge.tally.total ? true : undefined,
        );
        c.event.eq('messages published = messages received', arrivals.length, bridge.tally.total);
        const seqs = arrivals.map((a) => a.msg.seq);
        c.event.ok(
          'arrival order is publish order (seq strictly increasing)',
          seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)),
          seqs.join(','),
        );
        const subjects = new Set(arrivals.map((a) => a.msg.subject));
        c.event.ok(
          `subjects are ${nats.subjectPrefix}.${t.driver.platform}.<kind>`,
          [...subjects].every((s) => s === `${nats.subjectPrefix}.${t.driver.platform}.${s.split('.').pop()}`),
          [...subjects].join(' '),
        );

        const mine = arrivals.slice(mark);
        const tasks = mine.filter((a) => a.msg.source === 'receipt' && a.msg.vmId === vm.id);
        c.event.eq(
          'task updates for the VM, in call order, with its platform id',
          tasks.map((a) => a.msg.op),
          steps.map((s) => s.op),
        );
        if (ctx.caps.taskHandles)
          c.event.ok(
            "every task update carries the platform's task id",
            tasks.every((a) => !!a.msg.taskId && a.msg.handleKind !== 'none'),
            tasks.map((a) => `${a.msg.op}=${a.msg.taskId}`).join(' '),
          );
        else {
          c.event.ok(
            'task updates say the platform gave no task id (none invented)',
            tasks.every((a) => a.msg.taskId === null && a.msg.handleKind === 'none'),
          );
          c.event.unsupported(
            'platform task ids on NATS',
            `the platform returns no task or operation id for its calls: ${tasks[0]?.msg.note ?? 'no handle'}`,
          );
        }

        if (ctx.caps.events === 'none') {
          c.event.unsupported(
            'state-change events on NATS',
            'the platform offers neither push events nor a documented poll',
          );
          return;
        }
        const events = mine.filter((a) => a.msg.source !== 'receipt' && a.msg.vm === vm.name);
        // Each step's change is the first matching event after that step's call: a platform may pass
        // through the same words earlier (Nova boots a server at create and the adapter powers it off).
        const firstOf = steps.map((s) => {
          const hit = arrivals.find((a, j) => j >= (stepFrom[s.op] ?? mark) && eventOf(vm, s.event)(a));
          return hit ? events.indexOf(hit) : -1;
        });
        c.event.ok(
          'every state change arrived (defined, started, stopped, removed)',
          firstOf.every((i) => i >= 0),
          events.map((a) => a.msg.detail).join(' | '),
        );
        c.event.ok(
          'state changes arrived in the order the platform made them',
          firstOf.every((i, k) => k === 0 || i > (firstOf[k - 1] as number)),
          firstOf.join(','),
        );
        const stamped = events.map((a) => platformTimeMs(a.msg.platformAt ?? undefined));
        if (stamped.every((s) => s !== undefined)) {
          // The state changes (one per step), not every message: a platform may stamp a task or operation
          // message with when the task began, after a state change it caused was already delivered.
          const changes = firstOf.map((i) => stamped[i] as number);
          c.event.ok(
            "the state changes' platform timestamps never go backwards",
            changes.every((s, i) => i === 0 || s >= (changes[i - 1] as number)),
            changes.map((s) => new Date(s).toISOString()).join(' '),
          );
          const lat = events.map((a, i) => a.at - (stamped[i] as number));
          for (const [k, s] of steps.entries()) {
            const a = events[firstOf[k] as number];
            const at = stamped[firstOf[k] as number];
            if (a && at !== undefined) ctx.phase(`${s.op}: platform change -> NATS`, a.at - at);
          }
          // No arrivals is already a failed check above; there is no latency to summarise then.
          if (lat.length > 0) ctx.phase('platform change -> NATS (median)', median(lat));
          c.event.ok('the platform stamps its changes (latency measured from them)', true, lat.join(','));
        } else {
          // Without a platform timestamp the latency is from the request instead, and the evidence says so.
          for (const [k, s] of steps.entries()) {
            const a = events[firstOf[k] as number];
            if (a) ctx.phase(`${s.op}: request -> NATS (no platform timestamp)`, a.at - (requested[s.op] as number));
          }
          c.event.ok('latency measured from the request (the platform gives no event timestamp)', true);
        }
        if (events.length > 0)
          ctx.phase('bridge received -> NATS (median)', median(events.map((a) => a.at - Date.parse(a.msg.receivedAt))));
        if (stream && jsm) {
          const stored = (await jsm.streams.info(stream)).state.messages - storedBefore;
          c.event.ok(
            `JetStream stream ${stream} kept every message`,
            stored >= arrivals.length,
            `${stored} new in the stream`,
          );
        }
      } finally {
        ac.abort();
        await pump;
        await bridge.close();
        await consumer?.drain().catch(() => undefined);
      }
    },
  );
});

await currentRun();
