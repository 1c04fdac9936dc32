/**
 * The typed requirement registry, the source of truth for requirements in this repository: every ID of the
 * requirement catalogue with its ADR clause, scoring dimension, level, verification mode and the suite that
 * produces its evidence. catalogue.md is generated from it (`vmconform requirements --write`); where the
 * shared documents (requirements.md and the ADR, beside the repository) exist, registry.test.ts checks this
 * against them, so edit them together.
 */

export type Dimension = 'lifecycle' | 'netstore' | 'multidc' | 'operational' | 'commercial';

/** The five scoring dimensions, titled as in the ADR "Evaluation model". */
export const dimensions = [
  { id: 'lifecycle', title: 'Lifecycle automation fit' },
  { id: 'netstore', title: 'Network and storage fit' },
  { id: 'multidc', title: 'Multi-datacenter fit' },
  { id: 'operational', title: 'Operational fit' },
  { id: 'commercial', title: 'Commercial and procurement fit' },
] as const satisfies readonly { id: Dimension; title: string }[];

export type Level = 'MUST' | 'SHOULD';

/** auto: a suite proves it; lab: auto but needs lab prerequisites; manual: an assessor's signed statement. */
export type Verification = 'auto' | 'lab' | 'manual';

export interface Requirement {
  id: string;
  title: string;
  /** What the evidence must show, verbatim from requirements.md. */
  evidence: string;
  /** The ADR heading the clause sits under, e.g. 'Mandatory platform requirements'. */
  adrSection: string;
  /** The ADR bullet (or sentence) this requirement evidences, verbatim from the ADR text. */
  adrClause: string;
  dimension: Dimension;
  level: Level;
  verification: Verification;
  /** The suite file that produces the evidence; null when only an assessment file can. */
  suite: string | null;
  /** True when an assessment file may supply the verdict. */
  manual: boolean;
}

/** ADR headings that carry requirement clauses, in ADR order. */
export const adrSections = [
  'Mandatory platform requirements',
  'Inventory and tenancy requirements',
  'Networking requirements',
  'Image and provisioning requirements',
  'Multi-datacenter requirements',
  'Storage requirements',
  'Operational requirements',
  'Integration requirements',
  'Evaluation model',
] as const;

/**
 * ADR clauses, copied verbatim (note the typographic apostrophe in "Dataverket’s"). Named once here
 * because several requirements evidence the same clause.
 */
export const adrClauses = {
  automation: 'non-interactive automation',
  lifecycle: 'predictable VM create, start, stop, reboot, and delete workflows',
  attach: 'attachable disk and network lifecycle control',
  inspection: 'machine-readable or reliably scriptable state inspection',
  identity: 'durable host and VM identity for inventory reconciliation',
  observability: 'enough operational observability for task tracking and debugging',
  hostVmSeparation: 'clear separation between operator-managed hypervisor hosts and tenant-facing VMs',
  reconciliation: 'inventory reconciliation between runtime state and Sentral inventory',
  placementMetadata: 'project and environment-aware placement metadata',
  capacity: 'quota and capacity accounting at a level useful for tenant-facing services',
  tenancyModel:
    'The platform must not force Dataverket into a resource model that conflicts with tenant -> project -> environment scoping.',
  nettNetworks: 'attachment to Nett-managed networks',
  deterministicNics: 'deterministic network interface assignment',
  vlan: 'VLAN-backed or equivalent isolated network attachment',
  hostNetworking: 'enough host networking control to preserve Dataverket’s network intent model',
  baseImages: 'operator-managed base images',
  immutableImages: 'immutable image versioning or a close equivalent',
  guestInit: 'automated guest initialization',
  talos: 'Talos guest support where Talos-in-VM is required',
  reproducible: 'reproducible provisioning from declared inputs',
  dcPlacement: 'datacenter-aware placement',
  failureDomains: 'failure-domain-aware scheduling inputs',
  siteFailover: 'clear behavior during site failover',
  crossSiteRecovery: 'realistic recovery workflows for VMs in another datacenter',
  diskLifecycle: 'predictable VM disk lifecycle',
  backup: 'backup and restore workflows',
  replication: 'future replication or recovery design',
  storageInventory: 'inventory visibility for attached storage',
  failureModes: 'understandable failure modes',
  day2: 'clear day-2 operations',
  labRepro: 'practical lab reproducibility',
  upgrades: 'maintainable upgrade workflows',
  telemetry: 'accessible telemetry and troubleshooting paths',
  sentral: 'Sentral as system of record',
  maskin: 'Maskin as the VM lifecycle owner',
  nats: 'NATS-based task and event orchestration',
  noTenantRuntime: 'no tenant-direct dependence on the underlying runtime API',
  controlPlane: 'If the platform expects to be the dominant control plane itself, that should count against it.',
  commercial: 'Commercial and procurement fit Cost, availability, support, and realistic deployment path.',
} as const;
const clause = adrClauses;

const entries = [
  {
    id: 'AUT-01',
    title: 'Non-interactive automation',
    evidence:
      'every suite operation runs with no TTY, no prompt, stdin closed, credentials from config; bad credentials give a typed auth error',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.automation,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-01',
    title: 'Create from a declared spec',
    evidence:
      'create from a declared spec (name, vCPU, memory, boot disk from base image, NICs, metadata); config read back equals the spec',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-02',
    title: 'Start until the guest is ready',
    evidence:
      'start: platform state `running` and the guest reports ready (console marker, agent or exec) within the wait policy',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-03',
    title: 'Graceful and forced stop',
    evidence:
      'graceful stop (ACPI/guest shutdown) and forced stop both end `stopped`; graceful stop is seen by the guest',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-04',
    title: 'Reboot keeps identity and config',
    evidence: 'reboot: guest boot counter or boot id changes, VM identity and config unchanged',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-05',
    title: 'Delete releases owned resources',
    evidence: 'delete: VM gone, its owned volumes/ports/tasks released as declared, nothing leaked',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-06',
    title: 'Repeated and invalid transitions',
    evidence:
      'repeated or invalid transitions (start running, stop stopped, any op on a deleted VM) give a defined no-op or a typed error, never a hang',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/lifecycle.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-07',
    title: 'Lifecycle timing predictability',
    evidence: "each lifecycle op's p95/median over repetitions stays under the configured ratio (predictability)",
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/predictability.conformance.ts',
    manual: false,
  },
  {
    id: 'LC-08',
    title: 'Concurrent create and delete',
    evidence: 'N VMs created and deleted concurrently all succeed, or fail with typed errors',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.lifecycle,
    dimension: 'lifecycle',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/predictability.conformance.ts',
    manual: false,
  },
  {
    id: 'DSK-01',
    title: 'Attach a data disk',
    evidence: 'attach a new data disk; inspection shows it with a deterministic target and serial',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.attach,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/disks.conformance.ts',
    manual: false,
  },
  {
    id: 'DSK-02',
    title: 'Hot-attach a disk',
    evidence: 'hot-attach to a running VM; the guest sees the disk by serial',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.attach,
    dimension: 'netstore',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/disks.conformance.ts',
    manual: false,
  },
  {
    id: 'DSK-03',
    title: 'Detach and re-attach a disk',
    evidence: 'detach keeps the volume; it re-attaches to another VM with its data intact',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.attach,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/disks.conformance.ts',
    manual: false,
  },
  {
    id: 'DSK-04',
    title: 'Grow a disk',
    evidence: 'grow a disk; the new size shows in inspection (and in the guest where it can look)',
    adrSection: 'Storage requirements',
    adrClause: clause.diskLifecycle,
    dimension: 'netstore',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/disks.conformance.ts',
    manual: false,
  },
  {
    id: 'DSK-05',
    title: 'Volume inventory',
    evidence: 'volume inventory: size, format, backing, attached-to, for every volume',
    adrSection: 'Storage requirements',
    adrClause: clause.storageInventory,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/disks.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-01',
    title: 'Attach a NIC with a chosen MAC',
    evidence: 'attach a NIC to a named network with a caller-chosen MAC; inspection shows that MAC',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.attach,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-02',
    title: 'Deterministic NIC order',
    evidence: 'NICs declared in order a,b,c appear in that order in inspection and in the guest, stable across reboot',
    adrSection: 'Networking requirements',
    adrClause: clause.deterministicNics,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-03',
    title: 'Hot-plug and unplug a NIC',
    evidence: 'hot-plug and unplug a NIC on a running VM',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.attach,
    dimension: 'netstore',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-04',
    title: 'VLAN-backed isolation',
    evidence: 'VLAN-backed (or equivalent) isolation: same segment reaches, different segments do not (lab)',
    adrSection: 'Networking requirements',
    adrClause: clause.vlan,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'lab',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-05',
    title: 'Attach to an externally managed network',
    evidence: 'attach to an externally managed network (a bridge the platform did not create) without taking it over',
    adrSection: 'Networking requirements',
    adrClause: clause.nettNetworks,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'NIC-06',
    title: 'Host network state left alone',
    evidence: "host network state outside the platform's declared objects is unchanged by a suite run",
    adrSection: 'Networking requirements',
    adrClause: clause.hostNetworking,
    dimension: 'netstore',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/nics.conformance.ts',
    manual: false,
  },
  {
    id: 'INS-01',
    title: 'Structured state with enumerated states',
    evidence: 'state comes from a structured API (JSON/XML) with enumerated states that map fully to the contract',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.inspection,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'INS-02',
    title: 'Structured config read-back',
    evidence: 'full config read back in structured form: CPU, memory, disks, NICs, metadata',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.inspection,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'ID-01',
    title: 'Durable VM identity',
    evidence: 'VM UUID stable across stop/start, reboot, rename and daemon restart; never reused after delete',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.identity,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'ID-02',
    title: 'Durable host identity',
    evidence: 'host identity stable across daemon restart; hosts listed with that identity',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.identity,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'OBS-01',
    title: 'Task handles for mutating operations',
    evidence: 'each mutating op yields a handle (task, operation, request id) queryable for status, times and error',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.observability,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'OBS-02',
    title: 'State change events',
    evidence: 'state changes arrive as events (or a documented poll); latency from change to event measured',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.observability,
    dimension: 'lifecycle',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'OBS-03',
    title: 'Machine-readable failure reasons',
    evidence:
      'a failing op (bad image, bad network) returns a machine-readable reason in time and leaves nothing half-made',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.observability,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/platform.conformance.ts',
    manual: false,
  },
  {
    id: 'OBS-04',
    title: 'Console or task log through the API',
    evidence: 'per-VM console or task log retrievable through the API',
    adrSection: 'Mandatory platform requirements',
    adrClause: clause.observability,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/console.conformance.ts',
    manual: false,
  },
  {
    id: 'INV-01',
    title: 'Hosts and VMs as separate inventory objects',
    evidence:
      'hosts and VMs are separate inventory objects; host operations are distinguishable from tenant VM operations',
    adrSection: 'Inventory and tenancy requirements',
    adrClause: clause.hostVmSeparation,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: false,
  },
  {
    id: 'INV-02',
    title: 'Inventory export and drift detection',
    evidence:
      'a full inventory export (hosts, VMs, volumes, NICs with durable IDs) reconciles against a system-of-record snapshot; an out-of-band change is detected as drift',
    adrSection: 'Inventory and tenancy requirements',
    adrClause: clause.reconciliation,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/reconcile.conformance.ts',
    manual: false,
  },
  {
    id: 'INV-03',
    title: 'Tenant, project and environment placement metadata',
    evidence: 'tenant/project/environment placement metadata set at create, read back, filterable, survives restart',
    adrSection: 'Inventory and tenancy requirements',
    adrClause: clause.placementMetadata,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: false,
  },
  {
    id: 'INV-04',
    title: 'Capacity, allocation and per-project usage',
    evidence: 'host capacity and allocation (CPU, memory, storage) readable; per-project usage computable',
    adrSection: 'Inventory and tenancy requirements',
    adrClause: clause.capacity,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: false,
  },
  {
    id: 'INV-05',
    title: 'Tenancy model fit',
    evidence:
      'tenant -> project -> environment maps onto the platform without adopting its own tenancy model (manual + check)',
    adrSection: 'Inventory and tenancy requirements',
    adrClause: clause.tenancyModel,
    dimension: 'lifecycle',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: true,
  },
  {
    id: 'IMG-01',
    title: 'Operator-managed base images',
    evidence: 'operator uploads or imports a base image through the API; it is listed with a checksum',
    adrSection: 'Image and provisioning requirements',
    adrClause: clause.baseImages,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/images.conformance.ts',
    manual: false,
  },
  {
    id: 'IMG-02',
    title: 'Immutable image versions',
    evidence:
      'image versions are immutable: republishing a name never changes what existing VMs or the old version boot',
    adrSection: 'Image and provisioning requirements',
    adrClause: clause.immutableImages,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/images.conformance.ts',
    manual: false,
  },
  {
    id: 'IMG-03',
    title: 'Automated guest initialization',
    evidence:
      'automated guest init (cloud-init NoCloud, config drive or equivalent) runs declared user data; the guest proves it',
    adrSection: 'Image and provisioning requirements',
    adrClause: clause.guestInit,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/images.conformance.ts',
    manual: false,
  },
  {
    id: 'IMG-04',
    title: 'Talos-in-VM prerequisites',
    evidence:
      'Talos-in-VM prerequisites: UEFI boot, virtio, config delivery by user data or nocloud; boots Talos where an image is supplied (lab)',
    adrSection: 'Image and provisioning requirements',
    adrClause: clause.talos,
    dimension: 'lifecycle',
    level: 'SHOULD',
    verification: 'lab',
    suite: 'suites/images.conformance.ts',
    manual: false,
  },
  {
    id: 'IMG-05',
    title: 'Reproducible provisioning',
    evidence: 'the same declared spec provisioned twice gives identical config read back, IDs aside',
    adrSection: 'Image and provisioning requirements',
    adrClause: clause.reproducible,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/images.conformance.ts',
    manual: false,
  },
  {
    id: 'MDC-01',
    title: 'Site-aware placement',
    evidence: 'place a VM on a declared site/host/zone; read back where it is',
    adrSection: 'Multi-datacenter requirements',
    adrClause: clause.dcPlacement,
    dimension: 'multidc',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/multisite.conformance.ts',
    manual: false,
  },
  {
    id: 'MDC-02',
    title: 'Failure-domain labels',
    evidence: 'hosts carry failure-domain labels usable for anti-affinity placement',
    adrSection: 'Multi-datacenter requirements',
    adrClause: clause.failureDomains,
    dimension: 'multidc',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/multisite.conformance.ts',
    manual: false,
  },
  {
    id: 'MDC-03',
    title: 'Behaviour when a site is lost',
    evidence: "when one site's host is lost, its VMs report a clear state and the other site's API keeps working (lab)",
    adrSection: 'Multi-datacenter requirements',
    adrClause: clause.siteFailover,
    dimension: 'multidc',
    level: 'MUST',
    verification: 'lab',
    suite: 'suites/multisite.conformance.ts',
    manual: false,
  },
  {
    id: 'MDC-04',
    title: 'Recovery in the other site',
    evidence: 'a VM is recovered in the other site from backup or replica with its identity metadata (lab)',
    adrSection: 'Multi-datacenter requirements',
    adrClause: clause.crossSiteRecovery,
    dimension: 'multidc',
    level: 'MUST',
    verification: 'lab',
    suite: 'suites/multisite.conformance.ts',
    manual: false,
  },
  {
    id: 'STO-01',
    title: 'Backup and restore',
    evidence: 'backup (or snapshot + export) then restore gives a VM whose disk holds the data written before',
    adrSection: 'Storage requirements',
    adrClause: clause.backup,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/storage.conformance.ts',
    manual: false,
  },
  {
    id: 'STO-02',
    title: 'Standard disk export and import',
    evidence: 'disks export and import in a standard format (raw/qcow2) for a future replication design',
    adrSection: 'Storage requirements',
    adrClause: clause.replication,
    dimension: 'netstore',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/storage.conformance.ts',
    manual: false,
  },
  {
    id: 'STO-03',
    title: 'Storage pool capacity and usage',
    evidence: 'storage pools listed with capacity and usage',
    adrSection: 'Storage requirements',
    adrClause: clause.storageInventory,
    dimension: 'netstore',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/storage.conformance.ts',
    manual: false,
  },
  {
    id: 'OPS-01',
    title: 'Typed errors under injected faults',
    evidence:
      'injected faults (daemon down, API errors, storage full, bad spec) give typed errors; after recovery nothing is lost',
    adrSection: 'Operational requirements',
    adrClause: clause.failureModes,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/faults.conformance.ts',
    manual: false,
  },
  {
    id: 'OPS-02',
    title: 'Day-2 resize and host maintenance',
    evidence: 'day-2: change CPU/memory of a stopped VM; host maintenance path (evacuate or stop) exists',
    adrSection: 'Operational requirements',
    adrClause: clause.day2,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/day-two.conformance.ts',
    manual: false,
  },
  {
    id: 'OPS-03',
    title: 'Scripted lab bring-up',
    evidence: 'the lab for this platform builds from scripts, no manual step; bring-up time recorded',
    adrSection: 'Operational requirements',
    adrClause: clause.labRepro,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/day-two.conformance.ts',
    manual: false,
  },
  {
    id: 'OPS-04',
    title: 'Versions and daemon restart survival',
    evidence: 'platform and API versions readable; VMs keep running across a control daemon restart',
    adrSection: 'Operational requirements',
    adrClause: clause.upgrades,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/operations.conformance.ts',
    manual: false,
  },
  {
    id: 'OPS-05',
    title: 'Per-VM and per-host metrics',
    evidence: 'per-VM and per-host metrics (CPU, memory, disk, network) readable through the API',
    adrSection: 'Operational requirements',
    adrClause: clause.telemetry,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/operations.conformance.ts',
    manual: false,
  },
  {
    id: 'INT-01',
    title: 'External IDs and metadata kept verbatim',
    evidence:
      'externally assigned IDs and metadata (Sentral) are stored and returned verbatim; the platform DB need not be authoritative',
    adrSection: 'Integration requirements',
    adrClause: clause.sentral,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: false,
  },
  {
    id: 'INT-02',
    title: 'No autonomous VM state changes',
    evidence: 'the platform changes no VM state on its own unless configured; out-of-band changes are detectable',
    adrSection: 'Integration requirements',
    adrClause: clause.maskin,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/inventory.conformance.ts',
    manual: false,
  },
  {
    id: 'INT-03',
    title: 'Task and event bridge to NATS',
    evidence: 'platform tasks and events bridge to NATS subjects, in order, with measured latency',
    adrSection: 'Integration requirements',
    adrClause: clause.nats,
    dimension: 'lifecycle',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/integration.conformance.ts',
    manual: false,
  },
  {
    id: 'INT-04',
    title: 'No tenant access to the runtime API',
    evidence: 'tenants need no access to the runtime API (console and metadata paths included) (manual + check)',
    adrSection: 'Integration requirements',
    adrClause: clause.noTenantRuntime,
    dimension: 'operational',
    level: 'MUST',
    verification: 'auto',
    suite: 'suites/integration.conformance.ts',
    manual: true,
  },
  {
    id: 'INT-05',
    title: 'Control-plane dominance recorded',
    evidence:
      'how much the platform insists on being the control plane (own scheduler, tenancy, network management) is recorded; more counts against it',
    adrSection: 'Integration requirements',
    adrClause: clause.controlPlane,
    dimension: 'operational',
    level: 'SHOULD',
    verification: 'auto',
    suite: 'suites/integration.conformance.ts',
    manual: true,
  },
  {
    id: 'COM-01',
    title: 'Licence and cost model',
    evidence: 'licence and cost model, with sources',
    adrSection: 'Evaluation model',
    adrClause: clause.commercial,
    dimension: 'commercial',
    level: 'MUST',
    verification: 'manual',
    suite: null,
    manual: true,
  },
  {
    id: 'COM-02',
    title: 'Availability and support lifetime',
    evidence: 'availability: packages for the target OS, release cadence, support lifetime',
    adrSection: 'Evaluation model',
    adrClause: clause.commercial,
    dimension: 'commercial',
    level: 'MUST',
    verification: 'manual',
    suite: null,
    manual: true,
  },
  {
    id: 'COM-03',
    title: 'Support options',
    evidence: 'support options (vendor, community) with sources',
    adrSection: 'Evaluation model',
    adrClause: clause.commercial,
    dimension: 'commercial',
    level: 'SHOULD',
    verification: 'manual',
    suite: null,
    manual: true,
  },
  {
    id: 'COM-04',
    title: 'Deployment path for a small team',
    evidence: 'a realistic deployment path for a small team, with sources',
    adrSection: 'Evaluation model',
    adrClause: clause.commercial,
    dimension: 'commercial',
    level: 'MUST',
    verification: 'manual',
    suite: null,
    manual: true,
  },
] as const satisfies readonly Requirement[];

/** A known requirement ID; a typo in a suite's declaration is a compile error. */
export type RequirementId = (typeof entries)[number]['id'];

export const requirements: readonly Requirement[] = entries;

const byId = new Map<string, Requirement>(requirements.map((r) => [r.id, r]));

export function isRequirementId(id: string): id is RequirementId {
  return byId.has(id);
}

export function requirementById(id: string): Requirement {
  const found = byId.get(id);
  if (found === undefined) {
    throw new Error(`Unknown requirement ID '${id}': it is not in the registry (requirements/registry.ts)`);
  }
  return found;
}

export interface SuiteDeclaration {
  /** Repo-relative suite path, as in Requirement.suite, e.g. 'suites/lifecycle.conformance.ts'. */
  file: string;
  /** Requirement IDs the suite declares tests for. */
  ids: string[];
}

/**
 * Cross-checks what suites declare against the registry. Returns one problem sentence per finding, empty
 * when consistent. A registry ID is only reported missing when its suite file is among the declarations,
 * so suites not written yet do not drown out real gaps.
 */
export function checkSuiteCoverage(registry: readonly Requirement[], suiteDeclarations: SuiteDeclaration[]): string[] {
  const problems: string[] = [];
  const known = new Set(registry.map((r) => r.id));
  // A file may be listed more than once (e.g. one entry per describe block); merge its IDs.
  const declared = new Map<string, Set<string>>();
  for (const { file, ids } of suiteDeclarations) {
    const set = declared.get(file) ?? new Set<string>();
    for (const id of ids) {
      if (!known.has(id)) problems.push(`${file} declares unknown requirement ID ${id}`);
      set.add(id);
    }
    declared.set(file, set);
  }
  for (const r of registry) {
    if (r.suite === null) continue;
    const ids = declared.get(r.suite);
    if (ids !== undefined && !ids.has(r.id))
      problems.push(`${r.id} is assigned to ${r.suite}, which declares no test for it`);
  }
  return problems;
}
