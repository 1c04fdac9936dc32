/**
 * Validation of requests and responses against the reduced Proxmox VE schema
 * (fixtures/proxmox/api-schema.json, derived from pve-docs' api-viewer data). Pure: the simulator
 * answers a failed check with Proxmox's own 400 shape ({ data: null, errors: { param: message } }).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PropSchema {
  type?: string;
  optional?: number;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  maxLength?: number;
  default_key?: number;
  alias?: string;
  format?: string | Record<string, PropSchema>;
  items?: PropSchema;
  properties?: Record<string, PropSchema>;
  additionalProperties?: number;
}

export interface Endpoint {
  parameters: Record<string, PropSchema>;
  returns: PropSchema;
}

export interface ApiSchema {
  source: { repo: string; commit: string; version: string; file: string };
  endpoints: Record<string, Endpoint>;
  /** Per other release (e.g. '7.4-2', '9.1.3'): its pve-docs commit and what its schema says differently. */
  otherReleases?: Record<
    string,
    {
      commit: string;
      differences: Record<
        string,
        { returns?: PropSchema; missingParameters?: string[]; parameters?: Record<string, PropSchema> }
      >;
    }
  >;
}

export const schemaPath = fileURLToPath(new URL('../../../fixtures/proxmox/api-schema.json', import.meta.url));

export function loadSchema(path = schemaPath): ApiSchema {
  return JSON.parse(readFileSync(path, 'utf8')) as ApiSchema;
}

export interface Route {
  key: string;
  endpoint: Endpoint;
  pathParams: Record<string, string>;
}

/** Finds the endpoint for a concrete method and path (`/nodes/pve1/qemu/101/config`). */
export function matchRoute(schema: ApiSchema, method: string, path: string): Route | undefined {
  const parts = path.split('/').filter(Boolean);
  for (const [key, endpoint] of Object.entries(schema.endpoints)) {
    const [m, p = ''] = key.split(' ');
    if (m !== method) continue;
    const tpl = p.split('/').filter(Boolean);
    if (tpl.length !== parts.length) continue;
    const pathParams: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < tpl.length && ok; i++) {
      const t = tpl[i] as string;
      const v = parts[i] as string;
      if (t.startsWith('{')) pathParams[t.slice(1, -1)] = decodeURIComponent(v);
      else ok = t === v;
    }
    if (ok) return { key, endpoint, pathParams };
  }
  return undefined;
}

/** The schema entry for a parameter name, expanding `net[n]` to net0, net1, ... */
export function propFor(params: Record<string, PropSchema>, name: string): PropSchema | undefined {
  if (params[name]) return params[name];
  const m = /^([a-z_-]+?)(\d+)$/i.exec(name);
  return m ? params[`${m[1]}[n]`] : undefined;
}

const perlPattern = (p: string) => new RegExp(`^(?:${p.replace(/^\(\?\^\w*:/, '(?:')})$`);

/** Checks one scalar value as Proxmox's JSONSchema does for form parameters; returns a message or undefined. */
export function checkValue(p: PropSchema, v: unknown): string | undefined {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  switch (p.type) {
    case 'integer':
      if (typeof v === 'number' ? !Number.isInteger(v) : !/^-?\d+$/.test(s))
        return `type check ('integer') failed - got '${s}'`;
      break;
    case 'number':
      if (typeof v === 'number' ? false : !/^-?\d+(\.\d+)?$/.test(s))
        return `type check ('number') failed - got '${s}'`;
      break;
    case 'boolean':
      if (typeof v === 'boolean') break;
      if (!/^(0|1|true|false|on|off|yes|no)$/i.test(s)) return `type check ('boolean') failed - got '${s}'`;
      break;
    case 'array':
      if (!Array.isArray(v) && typeof v !== 'string') return `type check ('array') failed`;
      return undefined;
  }
  if ((p.type === 'integer' || p.type === 'number') && p.minimum !== undefined && Number(s) < p.minimum)
    return `value must have a minimum value of ${p.minimum}`;
  if ((p.type === 'integer' || p.type === 'number') && p.maximum !== undefined && Number(s) > p.maximum)
    return `value may have a maximum value of ${p.maximum}`;
  if (p.enum && !p.enum.includes(s))
    return `value '${s}' does not have a value in the enumeration '${p.enum.join(', ')}'`;
  if (p.maxLength !== undefined && s.length > p.maxLength) return `value may only be ${p.maxLength} characters long`;
  if (p.pattern && !perlPattern(p.pattern).test(s)) return `value does not match the regex pattern`;
  if (typeof p.format === 'object') return checkPropertyString(p.format, s);
  if (p.format === 'pve-tag-list' && !s.split(/[;, ]/).every((t) => t === '' || /^[a-z0-9_][a-z0-9_\-+.]*$/i.test(t)))
    return `invalid format - invalid tag in '${s}'`;
  if (p.format === 'pve-vmid' && !/^\d+$/.test(s)) return `invalid format - value does not look like a valid VM ID`;
  return undefined;
}

/** Parses `key=value,key=value` (the first key may be implied by `default_key`) as Proxmox does. */
export function parsePropertyString(format: Record<string, PropSchema>, s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const defaultKey = Object.entries(format).find(([, v]) => v.default_key)?.[0];
  for (const part of s.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (!defaultKey || out[defaultKey] !== undefined)
        throw new Error(`value without key, but schema does not define a default key`);
      out[defaultKey] = part;
      continue;
    }
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    const f = format[k];
    if (!f) throw new Error(`invalid format - unknown key '${k}'`);
    // `virtio=MAC` is an alias: the model named by the key, the MAC as its value.
    if (f.alias) {
      out.model = k;
      out[f.alias] = v;
    } else out[k] = v;
  }
  return out;
}

function checkPropertyString(format: Record<string, PropSchema>, s: string): string | undefined {
  let parsed: Record<string, string>;
  try {
    parsed = parsePropertyString(format, s);
  } catch (e) {
    return (e as Error).message;
  }
  for (const [k, v] of Object.entries(parsed)) {
    const f = format[k];
    if (!f || f.alias) continue;
    const err = checkValue({ ...f, format: typeof f.format === 'string' ? f.format : undefined }, v);
    if (err) return `invalid format - ${k}: ${err}`;
  }
  for (const [k, f] of Object.entries(format))
    if (!f.optional && !f.alias && f.type && parsed[k] === undefined && !f.default_key)
      return `invalid format - property '${k}' is missing`;
  return undefined;
}

/** Validates a request's parameters (path + query/form). Returns Proxmox's errors object, empty when valid. */
export function validateParams(endpoint: Endpoint, params: Record<string, unknown>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, v] of Object.entries(params)) {
    const p = propFor(endpoint.parameters, name);
    if (!p) {
      errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    const e = checkValue(p, v);
    if (e) errors[name] = e;
  }
  for (const [name, p] of Object.entries(endpoint.parameters))
    if (!p.optional && !name.endsWith('[n]') && params[name] === undefined)
      errors[name] = 'property is missing and it is not optional';
  return errors;
}

/** Checks a response body against the schema's return shape; returns the first mismatch (simulator self-check). */
export function checkReturn(p: PropSchema, v: unknown, at = 'data'): string | undefined {
  if (v === null || v === undefined)
    return p.type === 'null' || p.optional || p.type === undefined ? undefined : `${at}: null`;
  switch (p.type) {
    case 'array':
      if (!Array.isArray(v)) return `${at}: expected array`;
      for (const [i, x] of v.entries()) {
        const e = p.items ? checkReturn(p.items, x, `${at}[${i}]`) : undefined;
        if (e) return e;
      }
      return undefined;
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) return `${at}: expected object`;
      const o = v as Record<string, unknown>;
      for (const [k, sub] of Object.entries(p.properties ?? {})) {
        if (o[k] === undefined) {
          if (!sub.optional) return `${at}.${k}: missing`;
          continue;
        }
        const e = checkReturn(sub, o[k], `${at}.${k}`);
        if (e) return e;
      }
      return undefined;
    }
    case 'integer':
      return Number.isInteger(v) ? undefined : `${at}: expected integer, got ${JSON.stringify(v)}`;
    case 'number':
      return typeof v === 'number' ? undefined : `${at}: expected number, got ${JSON.stringify(v)}`;
    case 'string':
      return typeof v === 'string' ? undefined : `${at}: expected string, got ${JSON.stringify(v)}`;
    case 'boolean':
      return typeof v === 'boolean' || v === 0 || v === 1 ? undefined : `${at}: expected boolean`;
    case 'null':
      return `${at}: expected null, got ${JSON.stringify(v)}`;
    default:
      return undefined;
  }
}

/** Config values are kept as the strings clients send; Proxmox answers them typed (integers as numbers, booleans as 0/1). */
export function typedObject(p: PropSchema, o: Record<string, string>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(o)) {
    const t = propFor(p.properties ?? {}, k)?.type;
    out[k] =
      t === 'integer' || t === 'number' ? Number(v) : t === 'boolean' ? (/^(1|true|on|yes)$/i.test(v) ? 1 : 0) : v;
  }
  return out;
}
