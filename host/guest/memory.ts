/**
 * The memory a VM guest was given, from its own firmware memory map (e820 or EFI, as its kernel received
 * it), to compare with the declared memory. MemTotal is less than the declared memory by what the
 * firmware and the kernel keep; both shares come from the guest's own figures, so no fixed tolerance
 * can hide a platform that gave the guest less than it declared.
 */
import type { MemmapEntry } from './report.js';

const KiB = 1024;
const fourGiB = 4 * 1024 * 1024 * 1024;
/** Ranges the firmware keeps inside RAM (its data, ACPI tables), as opposed to device windows. */
const firmwareKept = new Set(['res', 'acpi', 'nvs']);

export interface GuestMemory {
  /** Address space the map gives RAM: below 4 GiB up to the top of RAM (with the firmware's ranges and
   * the legacy hole inside it), plus RAM above 4 GiB. What the platform gave the guest. */
  spanKiB: number;
  /** Usable RAM the firmware handed to the kernel ("System RAM"). */
  ramKiB: number;
  /** What the firmware keeps inside that span (its reserved ranges and the legacy VGA/ROM hole). */
  firmwareKiB: number;
  /** What the kernel keeps of the usable RAM (MemTotal is the rest); undefined without MemTotal. */
  kernelKiB: number | undefined;
}

export function guestMemory(map: MemmapEntry[], memTotalKiB: number | undefined): GuestMemory | undefined {
  const ram = map.filter((e) => e.type === 'ram');
  if (ram.length === 0) return undefined;
  const size = (e: MemmapEntry) => e.end - e.start + 1;
  const low = ram.filter((e) => e.end < fourGiB);
  let top = Math.max(0, ...low.map((e) => e.end + 1));
  // The firmware keeps the top of low RAM for itself (SeaBIOS: its tables; OVMF: more): still RAM given.
  const sorted = [...map].sort((a, b) => a.start - b.start);
  for (const e of sorted) if (e.start === top && e.end < fourGiB && firmwareKept.has(e.type)) top = e.end + 1;
  const high = ram.filter((e) => e.start >= fourGiB).reduce((s, e) => s + size(e), 0);
  const spanKiB = Math.round((top + high) / KiB);
  const ramKiB = Math.round(ram.reduce((s, e) => s + size(e), 0) / KiB);
  return {
    spanKiB,
    ramKiB,
    firmwareKiB: spanKiB - ramKiB,
    kernelKiB: memTotalKiB === undefined ? undefined : ramKiB - memTotalKiB,
  };
}

/** One line a failure message can carry: where the guest's figure comes from. */
export const describeMemory = (m: GuestMemory, memTotalKiB: number | undefined) =>
  `firmware map: ${m.spanKiB} KiB of RAM, of which the firmware keeps ${m.firmwareKiB} KiB and the kernel ${m.kernelKiB ?? '?'} KiB (MemTotal ${memTotalKiB ?? '?'} KiB)`;
