/** fast-xml-parser set up the way libvirt's XML is read and written here, shared by the parsers. */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

export type XmlNode = Record<string, unknown>;

export const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseAttributeValue: false,
  parseTagValue: false,
  // Metadata values are returned verbatim (INT-01): leading and trailing spaces are data.
  trimValues: false,
  isArray: (name) => ['disk', 'interface', 'meta', 'volume', 'controller', 'cell', 'owned'].includes(name),
});

export const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  format: true,
  suppressEmptyNode: true,
});

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
export const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'object' ? String((v as XmlNode)['#text'] ?? '') : String(v);
