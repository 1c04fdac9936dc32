/**
 * The simulator's model of one small OpenStack cloud (one region, one compute host, one Cinder
 * pool), kept as JSON on disk so a restart of the simulated API services keeps every object, as a
 * real control-plane restart keeps its database.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const GiB = 1024 ** 3;

export interface Action {
  action: string;
  request_id: string;
  start_time: string;
  updated_at: string | null;
  message: string | null;
  events: { event: string; start_time: string; finish_time: string | null; result: string | null }[];
}

export interface Fault {
  code: number;
  created: string;
  message: string;
  details: string;
}

export interface ServerVolume {
  id: string;
  volumeId: string;
  device: string;
  tag: string | null;
  deleteOnTermination: boolean;
}

export interface Server {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
  powerState: number;
  flavorId: string;
  imageId: string;
  metadata: Record<string, string>;
  tags: string[];
  az: string;
  host: string;
  created: string;
  updated: string;
  launchedAt: string | null;
  userData: string | null;
  fault: Fault | null;
  ports: string[];
  volumes: ServerVolume[];
  console: string[];
  stateSeq: number;
  bootedAt: number | null;
  cpuNs: number;
  actions: Action[];
  /** Status to go back to after a confirmed resize. */
  resizeFrom?: { flavorId: string; status: string };
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export interface Network {
  id: string;
  name: string;
  networkType: string;
  physicalNetwork: string | null;
  segmentationId: number | null;
  subnetId: string;
  cidr: string;
}

export interface Port {
  id: string;
  name: string;
  networkId: string;
  mac: string;
  ip: string;
  deviceId: string;
  deviceOwner: string;
  created: string;
}

export interface Volume {
  id: string;
  name: string;
  size: number;
  status: string;
  metadata: Record<string, string>;
  imageId: string | null;
  bootable: boolean;
  created: string;
  file: string;
  attachments: { attachmentId: string; serverId: string; device: string; attachedAt: string }[];
}

export interface Image {
  id: string;
  name: string;
  status: string;
  diskFormat: string;
  containerFormat: string;
  size: number | null;
  checksum: string | null;
  hashAlgo: string | null;
  hashValue: string | null;
  visibility: string;
  protected: boolean;
  tags: string[];
  properties: Record<string, string>;
  created: string;
  updated: string;
  file: string | null;
}

export interface Backup {
  id: string;
  name: string;
  volumeId: string;
  status: string;
  size: number;
  metadata: Record<string, string>;
  created: string;
  file: string;
}

export interface Cloud {
  projectId: string;
  userId: string;
  hostId: string;
  hostName: string;
  az: string;
  aggregate: { id: number; name: string; uuid: string };
  host: { vcpus: number; ramMb: number; reservedRamMb: number; diskGb: number; cpuRatio: number };
  pool: { name: string; totalGb: number };
  flavors: Flavor[];
  networks: Network[];
  ports: Port[];
  servers: Server[];
  volumes: Volume[];
  images: Image[];
  backups: Backup[];
  nextMac: number;
}

export const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
export const reqId = () => `req-${randomUUID()}`;

export function freshCloud(): Cloud {
  const net = (name: string, seg: number | null, type: string, phys: string | null, i: number): Network => ({
    id: randomUUID(),
    name,
    networkType: type,
    physicalNetwork: phys,
    segmentationId: seg,
    subnetId: randomUUID(),
    cidr: `10.${90 + i}.0.0/24`,
  });
  return {
    projectId: randomUUID().replace(/-/g, ''),
    userId: randomUUID().replace(/-/g, ''),
    hostId: randomUUID(),
    hostName: 'sim-compute-1',
    az: 'nova',
    aggregate: { id: 1, name: 'sim-rack-1', uuid: randomUUID() },
    host: { vcpus: 8, ramMb: 16384, reservedRamMb: 512, diskGb: 200, cpuRatio: 4 },
    pool: { name: 'sim-cinder@lvm#lvm', totalGb: 100 },
    flavors: [],
    networks: [
      net('vmc-net1', 101, 'vlan', 'physnet1', 1),
      net('vmc-net2', 102, 'vlan', 'physnet1', 2),
      net('vmc-ext', null, 'flat', 'ext', 3),
    ],
    ports: [],
    servers: [],
    volumes: [],
    images: [],
    backups: [],
    nextMac: 1,
  };
}

export function loadCloud(path: string): Cloud | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Cloud;
}

/** Atomic write: a restart mid-write never leaves a torn database. */
export function saveCloud(path: string, cloud: Cloud): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(cloud));
  renameSync(`${path}.tmp`, path);
}
