/** Request/response plumbing of the simulator: routing, JSON bodies, and each service's own error body shape. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { reqId } from './state.js';

export type Service = 'identity' | 'compute' | 'image' | 'network' | 'volume' | 'placement';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Neutron's exception type, e.g. NetworkNotFound. */
    readonly type?: string,
  ) {
    super(message);
  }
}

export interface Ctx {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  requestId: string;
  service: Service;
  json<T = Record<string, unknown>>(): T;
  /** Microversion the client asked for (or the minimum). */
  microversion: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const novaKey: Record<number, string> = {
  400: 'badRequest',
  403: 'forbidden',
  404: 'itemNotFound',
  409: 'conflictingRequest',
  413: 'overLimit',
};
const title: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  500: 'Internal Server Error',
};

/** Each service's documented error body (keystone, nova/cinder, glance, neutron, placement). */
export function errorReply(service: Service, status: number, message: string, id: string, type?: string): Reply {
  switch (service) {
    case 'identity':
      return { status, body: { error: { code: status, message, title: title[status] ?? 'Error' } } };
    case 'compute':
    case 'volume':
      return {
        status,
        body: {
          [novaKey[status] ?? (service === 'compute' ? 'computeFault' : 'volumeFault')]: { code: status, message },
        },
      };
    case 'image':
      return {
        status,
        contentType: 'text/html; charset=UTF-8',
        raw: `<html>\n <head>\n  <title>${status} ${title[status]}</title>\n </head>\n <body>\n  <h1>${status} ${title[status]}</h1>\n  ${message}<br /><br />\n\n\n </body>\n</html>`,
      };
    case 'network':
      return { status, body: { NeutronError: { type: type ?? 'HTTPError', message, detail: '' } } };
    case 'placement':
      return {
        status,
        body: {
          errors: [
            {
              status,
              title: title[status] ?? 'Error',
              detail: message,
              code: 'placement.undefined_code',
              request_id: id,
            },
          ],
        },
      };
  }
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function send(res: ServerResponse, r: Reply, id: string): void {
  // The marker header lets the adapter label evidence `simulated` whatever the lab config says.
  const headers: Record<string, string> = {
    'x-openstack-request-id': id,
    'x-vmconform-simulator': 'openstack',
    ...r.headers,
  };
  let payload = '';
  if (r.raw !== undefined) {
    payload = r.raw;
    headers['content-type'] = r.contentType ?? 'text/plain';
  } else if (r.body !== undefined) {
    payload = JSON.stringify(r.body);
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(r.status, headers);
  res.end(payload);
}

export { reqId };
