import { CommanderError, InvalidArgumentError } from 'commander';
import { expect, test } from 'vitest';
import { AuthFailed, ConfigInvalid, NotOwned, PlatformError, Timeout } from '../evidence/errors.js';
import { evaluationExitCode, signalExitCode } from '../run/exit-codes.js';
import { exitCodeFor, gateExitCode } from './exit-codes.js';

test('bad input exits 2, a platform or lab that broke exits 3, help is not an error', () => {
  expect(exitCodeFor(new ConfigInvalid('platforms.proxmox.url: expected a URL'))).toBe(2);
  expect(exitCodeFor(new InvalidArgumentError('expected a number with a unit'))).toBe(2);
  expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "unknown option '--x'"))).toBe(2);
  expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(0);
  expect(exitCodeFor(new AuthFailed('401 from the API'))).toBe(2);
  expect(exitCodeFor(new NotOwned('vm-x carries no ownership tag'))).toBe(2);
  expect(exitCodeFor(new PlatformError('connect ECONNREFUSED', 'ECONNREFUSED', 'refused'))).toBe(3);
  expect(exitCodeFor(new Timeout('the API did not answer', 30_000))).toBe(3);
  expect(exitCodeFor(new Error('lab proxmox did not come up'))).toBe(3);
  expect(exitCodeFor('thrown string')).toBe(3);
});

test('an evaluation: interrupt, then harness error, then failures decide', () => {
  expect(signalExitCode('SIGINT')).toBe(130);
  expect(signalExitCode('SIGTERM')).toBe(143);
  expect(evaluationExitCode({ harnessError: false, failed: false })).toBe(0);
  expect(evaluationExitCode({ harnessError: false, failed: true })).toBe(1);
  expect(evaluationExitCode({ harnessError: true, failed: true })).toBe(3);
  expect(evaluationExitCode({ signal: 'SIGTERM', harnessError: true, failed: true })).toBe(143);
  expect(evaluationExitCode({ signal: 'SIGINT', harnessError: false, failed: false })).toBe(130);
});

test('a --fail-on check: harness error, then failures decide', () => {
  expect(gateExitCode({ failed: [], harness: [] })).toBe(0);
  expect(gateExitCode({ failed: ['libvirt: failed LC-01'], harness: [] })).toBe(1);
  expect(gateExitCode({ failed: ['libvirt: failed LC-01'], harness: ['libvirt: error verdicts: LC-02'] })).toBe(3);
});
