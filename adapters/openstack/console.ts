/**
 * One VM's console as the harness has seen it across Nova's restarts of the log. Nova's libvirt driver
 * writes the console with append="off" and starts a new QEMU on start and on reboot, so each boot's log
 * replaces the last; the API returns only the last 100 KiB. Reading the console therefore shows one
 * segment at a time: this keeps every earlier segment, so a guest view counts every boot it was shown.
 */
export interface ConsoleSeen {
  /** Segments that ended (the log restarted after them), oldest first. */
  done: string[];
  /** The segment the last read showed. */
  current: string;
}

export const emptyConsole = (): ConsoleSeen => ({ done: [], current: '' });

/** Bytes of the last read looked for in a truncated next read (Nova keeps the log's last 100 KiB). */
const overlap = 4096;

/** The state after a read that returned `text`; an empty read (a stopped server has no console) changes nothing. */
export function seeConsole(seen: ConsoleSeen, text: string): ConsoleSeen {
  if (text === '' || text === seen.current) return seen;
  // The same log, grown.
  if (text.startsWith(seen.current)) return { done: seen.done, current: text };
  // The same log, grown past the 100 KiB Nova returns: the end of what was seen is still in it.
  const tail = seen.current.slice(-overlap);
  const at = tail.length === overlap ? text.indexOf(tail) : -1;
  if (at >= 0) return { done: seen.done, current: seen.current + text.slice(at + tail.length) };
  // A new log: the guest was started again.
  return { done: seen.current === '' ? seen.done : [...seen.done, seen.current], current: text };
}

/** Everything seen, in order; each segment ends with a newline so a cut line never joins the next boot. */
export const consoleAll = (seen: ConsoleSeen): string =>
  [...seen.done, seen.current].map((s) => (s === '' || s.endsWith('\n') ? s : `${s}\n`)).join('');
