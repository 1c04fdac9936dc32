/**
 * What the simulator reproduces of real Proxmox VE where an adapter can go wrong, one row per behaviour,
 * each taken from Proxmox's own source at a named release and checked by the test of the same id in
 * behaviours.test.ts (in every release mode the row names). These are modelled expectations read from
 * the source, never findings on a real cluster. BEHAVIOUR.md beside this file is rendered from it:
 *   node --import tsx adapters/proxmox/simulator/behaviours.ts > adapters/proxmox/simulator/BEHAVIOUR.md
 *   npx biome format --write adapters/proxmox/simulator/BEHAVIOUR.md
 */

/** The release modes the simulator runs as (the /version it reports). */
export const releaseModes = { '8.4': '8.4.1', '9.x': '9.2.11' } as const;
export type Release = keyof typeof releaseModes;

/** The upstream commits the line numbers below are read at. */
export const upstream = {
  'qemu-server': { '8.4': '8.4.10 (5ccd363e)', '9.x': '9.2.6 (e6352be6)' },
  'pve-manager': { '8.4': '8.4.21 (2606ac85)', '9.x': '9.2.11 (f6997e69)' },
  'pve-common': { '9.x': '9.2.1 (f665029)' },
  'pve-guest-common': { '9.x': 'master (4a8f6cb)' },
  'pve-storage': { '9.x': '9.1.7 (0c56bad)' },
  'pve-access-control': { '8.4': '8.2.3 (0f258e7)', '9.x': '9.1.1 (5ccd07d)' },
  'pve-cluster': { '9.x': '9.1.6 (7091d92)' },
} as const;

export interface Source {
  repo: keyof typeof upstream;
  file: string;
  fn: string;
  /** Line(s) per release (the release's commit in `upstream`; a repo cited at one commit uses '9.x'). */
  lines: Partial<Record<Release, string>>;
}

export interface Behaviour {
  id: string;
  endpoint: string;
  /** What real Proxmox does: a synchronous error (HTTP code and text), a task's exit, a no-op, a field. */
  real: string;
  kind: 'sync-error' | 'task-exit' | 'no-op' | 'field' | 'visibility';
  releases: Release[];
  sources: Source[];
  /** What the adapter does about it. */
  adapter: string;
}

const qs = 'qemu-server';
const qemuPm = 'src/PVE/API2/Qemu.pm';
const serverPm = 'src/PVE/QemuServer.pm';
const both: Release[] = ['8.4', '9.x'];
const checkLock: Source = {
  repo: 'pve-guest-common',
  file: 'src/PVE/AbstractConfig.pm',
  fn: 'check_lock (`<guest type> is locked (<lock>)`)',
  lines: { '9.x': '336-340' },
};

export const behaviours: Behaviour[] = [
  {
    id: 'B-LOCK-1',
    endpoint:
      'POST qemu/{vmid}/status/{start,stop,shutdown,reboot}, DELETE qemu/{vmid}, PUT qemu/{vmid}/resize (8.0 on)',
    real: 'The call is accepted (UPID); the lock is checked first thing inside the task, which ends `VM is locked (<lock>)` having done nothing.',
    kind: 'task-exit',
    releases: both,
    sources: [
      { repo: qs, file: serverPm, fn: 'vm_start', lines: { '8.4': '5986', '9.x': '5526' } },
      { repo: qs, file: serverPm, fn: '_do_vm_stop (stop, shutdown, reboot)', lines: { '8.4': '6676', '9.x': '6260' } },
      { repo: qs, file: serverPm, fn: 'destroy_vm', lines: { '8.4': '2228', '9.x': '1848' } },
      { repo: qs, file: qemuPm, fn: 'resize_vm $updatefn', lines: { '8.4': '5766', '9.x': '6008' } },
      checkLock,
    ],
    adapter: 'mutate() waits for the lock to clear and sends the call again, within the device wait policy.',
  },
  {
    id: 'B-LOCK-2',
    endpoint: 'POST qemu/{vmid}/config, POST qemu/{vmid}/clone (source VM)',
    real: 'Refused before any task: HTTP 500 `VM is locked (<lock>)`. 8.4 checks under the config lock in the API process before forking; 9.x (from 9.1.19) in the early check before forking.',
    kind: 'sync-error',
    releases: both,
    sources: [
      { repo: qs, file: qemuPm, fn: 'update_vm_api $updatefn', lines: { '8.4': '2134, 2528', '9.x': '2229, 2593' } },
      { repo: qs, file: qemuPm, fn: 'clone_vm $load_and_check', lines: { '8.4': '4352', '9.x': '4472' } },
      checkLock,
    ],
    adapter: 'mutate() waits for the lock to clear and sends the call again.',
  },
  {
    id: 'B-LOCK-3',
    endpoint: 'POST vzdump',
    real: 'The job is accepted; its set_lock fails inside the task: log `ERROR: Backup of VM <vmid> failed - VM is locked (<lock>)`, exit `job errors`.',
    kind: 'task-exit',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/VZDump.pm',
        fn: 'exec_backup_task, exec_backup',
        lines: { '8.4': '1352, 1503', '9.x': '1340, 1491' },
      },
      { repo: 'pve-guest-common', file: 'src/PVE/AbstractConfig.pm', fn: 'set_lock', lines: { '9.x': '351-363' } },
    ],
    adapter: 'mutate() reads the lock from the task log and sends the backup again once it clears.',
  },
  {
    id: 'B-STATE-1',
    endpoint: 'POST qemu/{vmid}/status/start',
    real: "Starting a running VM is accepted; the task ends `VM <vmid> already running`. A template: `you can't start a vm if it's a template`.",
    kind: 'task-exit',
    releases: both,
    sources: [{ repo: qs, file: serverPm, fn: 'vm_start', lines: { '8.4': '5972, 5991', '9.x': '5512, 5531' } }],
    adapter: 'A Conflict carrying the task exit.',
  },
  {
    id: 'B-STATE-2',
    endpoint: 'POST qemu/{vmid}/status/stop, POST qemu/{vmid}/status/shutdown',
    real: 'On a stopped VM the task ends OK having done nothing (it returns before the lock check).',
    kind: 'no-op',
    releases: both,
    sources: [
      { repo: qs, file: serverPm, fn: '_do_vm_stop `return if !$pid`', lines: { '8.4': '6671', '9.x': '6255' } },
    ],
    adapter: 'Stopping a stopped VM succeeds.',
  },
  {
    id: 'B-STATE-3',
    endpoint: 'POST qemu/{vmid}/status/reboot',
    real: 'Rebooting a stopped VM is refused before any task: HTTP 500 `VM <vmid> not running`.',
    kind: 'sync-error',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'vm_reboot', lines: { '8.4': '3899', '9.x': '4013' } }],
    adapter: 'A Conflict.',
  },
  {
    id: 'B-STATE-4',
    endpoint: 'DELETE qemu/{vmid}',
    real: 'Destroying a running VM is refused before any task: HTTP 500 `VM <vmid> is running - destroy failed`.',
    kind: 'sync-error',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'destroy_vm $early_checks', lines: { '8.4': '2739', '9.x': '2842' } }],
    adapter: 'delete() stops a running VM first.',
  },
  {
    id: 'B-REBOOT-1',
    endpoint: 'POST qemu/{vmid}/status/reboot',
    real: "The qmreboot task ends OK once the guest has shut down; qmeventd's `qm cleanup` then starts the VM again through vm_start, a separate qmstart task run as root@pam (which a token does not see in the task lists).",
    kind: 'task-exit',
    releases: both,
    sources: [
      { repo: qs, file: serverPm, fn: 'vm_reboot', lines: { '8.4': '6791-6815', '9.x': '6375-6399' } },
      { repo: qs, file: 'src/PVE/CLI/qm.pm', fn: 'cleanup', lines: { '8.4': '1114-1128', '9.x': '1163-1177' } },
    ],
    adapter: 'reboot() waits (reboot policy) for status/current to say running again.',
  },
  {
    id: 'B-STATUS-1',
    endpoint: 'GET qemu/{vmid}/status/current',
    real: "Current (not pvestatd's): status running or stopped, qmpstatus, an `ha` object, and `agent: 1` only when the agent is enabled (absent otherwise, never false).",
    kind: 'field',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'vm_status', lines: { '8.4': '3370-3382', '9.x': '3475-3487' } }],
    adapter: 'inspect() and reboot() read power from here.',
  },
  {
    id: 'B-AGENT-1',
    endpoint: 'GET qemu/{vmid}/agent/*',
    real: 'HTTP 500, checked in this order: `No QEMU guest agent configured`, `VM <vmid> is not running`, `QEMU guest agent is not running`.',
    kind: 'sync-error',
    releases: both,
    sources: [
      {
        repo: qs,
        file: 'src/PVE/QemuServer/Agent.pm',
        fn: 'agent_available / assert_agent_available',
        lines: { '8.4': '39-46', '9.x': '109-112' },
      },
    ],
    adapter: 'The guest probe serves its last report while the agent cannot answer (not running, agent down).',
  },
  {
    id: 'B-CLONE-1',
    endpoint: 'POST qemu/{vmid}/clone',
    real: 'A new VMID whose config exists is refused before any task: HTTP 500 `unable to create VM <newid>: config file already exists`.',
    kind: 'sync-error',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'clone_vm $load_and_check', lines: { '8.4': '4380', '9.x': '4502' } }],
    adapter: 'create() asks /cluster/nextid again and retries (up to 12 rounds).',
  },
  {
    id: 'B-CLONE-2',
    endpoint: 'POST qemu/{vmid}/clone (two at once to one new VMID)',
    real: "Both pass the early check; the task waits 1 s for the new VMID's config lock. The loser's task ends `can't lock file '/var/lock/qemu-server/lock-<newid>.conf' - got timeout` while the winner still holds it, or `unable to create VM <newid>: config file already exists` once the winner wrote its config. Either way it made nothing.",
    kind: 'task-exit',
    releases: both,
    sources: [
      { repo: qs, file: qemuPm, fn: 'clone_vm $lock_target_vm', lines: { '8.4': '4607', '9.x': '4735' } },
      { repo: 'pve-common', file: 'src/PVE/Tools.pm', fn: 'lock_file_full', lines: { '9.x': '157, 203, 264' } },
    ],
    adapter: 'create() treats both task exits like the synchronous refusal: a fresh VMID, another round.',
  },
  {
    id: 'B-CLONE-3',
    endpoint: 'POST qemu/{vmid}/clone (the task fails)',
    real: 'The task frees the volumes it made and removes its temporary config before ending `clone failed: <error>`: nothing is left at the new VMID.',
    kind: 'task-exit',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'clone_vm $clonefn', lines: { '8.4': '4585-4599', '9.x': '4712-4727' } }],
    adapter: "create()'s rollback looks for a VM by VMID and name and removes only its own.",
  },
  {
    id: 'B-NEXTID-1',
    endpoint: 'GET /cluster/nextid (vmid=)',
    real: 'A VMID in use is a parameter error: HTTP 400 with errors `{ vmid: "VM <vmid> already exists" }`. Without vmid it proposes the lowest free VMID, the same to callers racing.',
    kind: 'sync-error',
    releases: both,
    sources: [
      { repo: 'pve-manager', file: 'PVE/API2/Cluster.pm', fn: 'nextid', lines: { '8.4': '908', '9.x': '1039' } },
    ],
    adapter: 'create() and restore() take the proposal and cope with losing it (B-CLONE-1/2).',
  },
  {
    id: 'B-CONF-1',
    endpoint: 'GET qemu/{vmid}/config (missing VM)',
    real: "HTTP 500 `Configuration file 'nodes/<node>/qemu-server/<vmid>.conf' does not exist`.",
    kind: 'sync-error',
    releases: both,
    sources: [
      { repo: 'pve-guest-common', file: 'src/PVE/AbstractConfig.pm', fn: 'load_config', lines: { '9.x': '50-58' } },
    ],
    adapter: 'A NotFound; VMs are listed before their config is read, as reads retry 500s.',
  },
  {
    id: 'B-RES-1',
    endpoint: 'GET /cluster/resources (type=vm)',
    real: "The VMID list, tags and lock are current, but name, status, template and sizes are the rrd row pvestatd writes every 10 s: a new VMID shows `status: unknown` with no name; a reused one the previous VM's name.",
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2Tools.pm',
        fn: 'extract_vm_stats',
        lines: { '8.4': '104-112', '9.x': '81-89' },
      },
      {
        repo: 'pve-manager',
        file: 'PVE/Service/pvestatd.pm',
        fn: '$updatetime',
        lines: { '8.4': '691', '9.x': '885' },
      },
    ],
    adapter:
      'VMs, names, states and templates are read from GET /nodes/{node}/qemu; /cluster/resources only for nodes.',
  },
  {
    id: 'B-RES-2',
    endpoint: 'GET /nodes/{node}/qemu',
    real: 'Read from each config and the running processes: the current name (`VM <vmid>` without one), status, `template: 1`, tags and lock.',
    kind: 'field',
    releases: both,
    sources: [{ repo: qs, file: serverPm, fn: 'vmstatus', lines: { '8.4': '3004, 3022', '9.x': '2574, 2593' } }],
    adapter: 'vmList() is the source for locate, list, owned, images, the duplicate-name check and events.',
  },
  {
    id: 'B-STOR-1',
    endpoint: 'GET /nodes/{node}/storage',
    real: 'active, enabled and shared are Perl integers (0/1), never JSON booleans; a disabled storage is listed with active 0, enabled 0 and no sizes (and left out when filtered by content).',
    kind: 'field',
    releases: both,
    sources: [{ repo: 'pve-storage', file: 'src/PVE/Storage.pm', fn: 'storage_info', lines: { '9.x': '1440-1488' } }],
    adapter: 'A storage counts as active only for 1 (or true).',
  },
  {
    id: 'B-STOR-2',
    endpoint: 'DELETE /nodes/{node}/storage/{storage}/content/{volume}',
    real: 'No VM config is consulted: the volume is freed in an `imgdel` task (id `<owner vmid>@<storage>`) even if a config still names it, which then dangles.',
    kind: 'task-exit',
    releases: both,
    sources: [
      { repo: 'pve-storage', file: 'src/PVE/API2/Storage/Content.pm', fn: 'delete', lines: { '9.x': '452-522' } },
    ],
    adapter: 'Used for backups only; a VM disk is removed through its VM (delete of unusedN), never here.',
  },
  {
    id: 'B-SIZE-1',
    endpoint: 'POST qemu/{vmid}/config `<disk>: STORAGE:SIZE`',
    real: "SIZE is GiB, converted to KiB with any fraction rounded up; config size= is that KiB count (format_size); lvmthin rounds the volume up to whole 4 MiB extents (LVM's own rounding). 0.007813 GiB (8 MiB to 6 places) is 8193K and a 12 MiB volume.",
    kind: 'field',
    releases: both,
    sources: [
      { repo: qs, file: qemuPm, fn: 'create_disks', lines: { '8.4': '504', '9.x': '519' } },
      { repo: 'pve-common', file: 'src/PVE/Tools.pm', fn: 'convert_size', lines: { '9.x': '1246-1275' } },
      { repo: 'pve-common', file: 'src/PVE/JSONSchema.pm', fn: 'format_size', lines: { '9.x': '1041-1060' } },
    ],
    adapter: 'allocGiB() sends the exact decimal of a whole KiB count, so 8 MiB is 0.0078125 and 8192K.',
  },
  {
    id: 'B-SIZE-2',
    endpoint: 'PUT qemu/{vmid}/resize',
    real: "Inside the task: compared with the volume's real size (not the config's), a smaller size ends `shrinking disks is not supported`; the same size is a no-op ending OK.",
    kind: 'task-exit',
    releases: both,
    sources: [{ repo: qs, file: qemuPm, fn: 'resize_vm $updatefn', lines: { '8.4': '5806-5808', '9.x': '6048-6050' } }],
    adapter: 'Sizes go out in whole K, which resize_vm takes exactly.',
  },
  {
    id: 'B-MOVE-1',
    endpoint: 'POST qemu/{vmid}/move_disk (target-vmid)',
    real: "Checked before the task: both VMs' locks (HTTP 500 `VM is locked (<lock>)`), the source slot (`Disk '<disk>' for VM '<vmid>' does not exist`) and the target slot (`Target disk key '<disk>' is already in use for VM '<vmid>'`).",
    kind: 'sync-error',
    releases: both,
    sources: [
      {
        repo: qs,
        file: qemuPm,
        fn: 'move_vm_disk $load_and_check_reassign_configs',
        lines: { '8.4': '4877-4897', '9.x': '5012-5033' },
      },
    ],
    adapter: 'mutate() waits out a lock; attachDisk picks a free slot first.',
  },
  {
    id: 'B-RESTORE-1',
    endpoint: 'POST /nodes/{node}/qemu (archive=)',
    real: 'The VMID is reserved with a `create` lock before the task. A failed restore frees the volumes it made and drops the lock but leaves the VM (`VM <vmid> state is NOT cleaned up`).',
    kind: 'task-exit',
    releases: both,
    sources: [
      { repo: qs, file: qemuPm, fn: 'create_vm', lines: { '8.4': '1313, 1495-1506', '9.x': '1374, 1582-1594' } },
      { repo: qs, file: serverPm, fn: 'restore_vma_archive', lines: { '8.4': '8274', '9.x': '7735' } },
    ],
    adapter: 'restore() removes the VM its accepted call left, if it carries no tags or our ownership tag.',
  },
  {
    id: 'B-RESTORE-2',
    endpoint: 'POST /nodes/{node}/qemu (archive=, vmid in use)',
    real: "Refused before any task: HTTP 500 `unable to restore VM <vmid> - VM <vmid> already exists on node '<node>'`; concurrent restores given one /cluster/nextid proposal get this for all but the first.",
    kind: 'sync-error',
    releases: both,
    sources: [
      { repo: qs, file: qemuPm, fn: 'create_vm', lines: { '8.4': '1311-1314', '9.x': '1372-1375' } },
      { repo: 'pve-cluster', file: 'src/PVE/Cluster.pm', fn: 'check_vmid_unused', lines: { '9.x': '785-797' } },
    ],
    adapter: 'restore() asks /cluster/nextid again and retries (up to 12 rounds), as create() does.',
  },
  {
    id: 'B-TASK-1',
    endpoint: 'GET /cluster/tasks',
    real: "Without Sys.Audit on / only tasks whose user equals the caller are listed, and a token's task user is split into user and tokenid first: a token sees none of its own tasks.",
    kind: 'visibility',
    releases: both,
    sources: [
      { repo: 'pve-manager', file: 'PVE/API2/Cluster.pm', fn: 'tasks', lines: { '8.4': '639-647', '9.x': '758-766' } },
    ],
    adapter: 'Tasks are read per node (GET /nodes/{node}/tasks), never from /cluster/tasks.',
  },
  {
    id: 'B-TASK-2',
    endpoint: 'GET /nodes/{node}/tasks',
    real: "Without Sys.Audit on /nodes/{node} a token sees only its own tasks (others' status and log: HTTP 403); only finished tasks are listed unless source=active or all.",
    kind: 'visibility',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Tasks.pm',
        fn: '$check_task_user, node_tasks',
        lines: { '8.4': '27-37, 94, 178', '9.x': '27-37, 94, 184, 400-407' },
      },
    ],
    adapter: 'events() polls it with source=all.',
  },
  {
    id: 'B-TASK-3',
    endpoint: 'GET /nodes/{node}/tasks/{upid}/status',
    real: '`status` is running, then stopped with `exitstatus` read from the last line of the task log: `OK`, `WARNINGS: <n>` (both a success), the text after `TASK ERROR: `, or `unexpected status`.',
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Tasks.pm',
        fn: 'read_task_status',
        lines: { '8.4': '448, 533-535', '9.x': '454, 539-541' },
      },
      { repo: 'pve-common', file: 'src/PVE/UPID.pm', fn: 'read_status, status_is_error', lines: { '9.x': '70-91' } },
    ],
    adapter: 'waitTask() counts OK and WARNINGS: <n> as success; any other exit is a TaskFailed carrying the log.',
  },
  {
    id: 'B-TASK-4',
    endpoint: 'GET /nodes/{node}/tasks/{upid}/log',
    real: 'Lines `{ n, t }` from `start` (0-based; n counts from 1), at most `limit` of them: 50 unless asked for more.',
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Tasks.pm',
        fn: 'read_task_log (start, limit default 50)',
        lines: { '8.4': '329, 356-359', '9.x': '335, 362-365' },
      },
    ],
    adapter: 'taskLog() asks for start=0, limit=500; a failed task carries its last 10 lines.',
  },
  {
    id: 'B-VER-1',
    endpoint: 'GET /version',
    real: 'Any authenticated caller: `version` (pve-manager, x.y.z), `release` (x.y) and `repoid`.',
    kind: 'field',
    releases: both,
    sources: [{ repo: 'pve-manager', file: 'PVE/API2.pm', fn: 'version', lines: { '8.4': '86-137', '9.x': '86-137' } }],
    adapter: 'version() reads it first; the preflight names a release the table does not model.',
  },
  {
    id: 'B-NET-1',
    endpoint: 'GET /nodes/{node}/network (type=any_bridge)',
    real: 'Bridges (Linux and OVS, and SDN vnets the caller may use) from /etc/network/interfaces; `active: 1` only for an interface that is up, absent otherwise (never false).',
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Network.pm',
        fn: 'index (type filter)',
        lines: { '8.4': '379-420', '9.x': '408-450' },
      },
      {
        repo: 'pve-common',
        file: 'src/PVE/Network/Interfaces.pm',
        fn: 'read_etc_network_interfaces (`active = 1`)',
        lines: { '9.x': '341-345' },
      },
    ],
    adapter: 'networks() counts a bridge active only when `active` is 1 (an absent flag is a bridge that is down).',
  },
  {
    id: 'B-STOR-3',
    endpoint: 'GET /nodes/{node}/storage/{storage}/content (content=, vmid=)',
    real: "Needs Datastore.Audit or Datastore.AllocateSpace on the storage; a volume the caller may not access (check_volume_access) is left out; a backup's notes are only their first line.",
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-storage',
        file: 'src/PVE/API2/Storage/Content.pm',
        fn: 'index (notes, check_volume_access)',
        lines: { '9.x': '23-185, 117-119, 172-176' },
      },
    ],
    adapter: 'backupVolumes() reads the run id from the first line of the notes (`vmconform run=<id> vm=<name>`).',
  },
  {
    id: 'B-PERM-1',
    endpoint: 'GET qemu/{vmid}/agent/network-get-interfaces, GET qemu/{vmid}/agent/file-read',
    real: '8.4 needs VM.Monitor; 9.x needs VM.GuestAgent.Audit (network-get-interfaces) or VM.GuestAgent.FileRead (file-read), or VM.GuestAgent.Unrestricted. Otherwise HTTP 403 `Permission check failed (/vms/<vmid>, <privs joined by |>)`.',
    kind: 'sync-error',
    releases: both,
    sources: [
      {
        repo: qs,
        file: 'src/PVE/API2/Qemu/Agent.pm',
        fn: 'register_command, file-read',
        lines: { '8.4': '147, 408', '9.x': '65-67, 184, 455' },
      },
      { repo: 'pve-access-control', file: 'src/PVE/RPCEnvironment.pm', fn: 'check_any', lines: { '9.x': '307-325' } },
      { repo: 'pve-common', file: 'src/PVE/Exception.pm', fn: 'raise_perm_exc', lines: { '9.x': '53-62' } },
    ],
    adapter: 'AuthFailed naming the privilege; `vmconform preflight` checks it before a run.',
  },
  {
    id: 'B-PERM-2',
    endpoint: 'GET /access/permissions (path=)',
    real: "Any caller may read its own effective privileges (another user's or token's need Sys.Audit on /access): with path, `{ <path>: { <privilege>: <propagate 0/1> } }`, or `{}` when none are held there; without, every top-level path (/, /access, /access/groups, /nodes, /pool, /sdn, /storage, /vms), every ACL path and every pool member's /vms/<vmid>, paths holding none left out. A privilege-separated token holds what both it and its user hold; root@pam, and its tokens without privilege separation, every Administrator privilege everywhere.",
    kind: 'field',
    releases: both,
    sources: [
      {
        repo: 'pve-access-control',
        file: 'src/PVE/API2/AccessControl.pm',
        fn: 'permissions',
        lines: { '8.4': '553-617', '9.x': '510-574' },
      },
      {
        repo: 'pve-access-control',
        file: 'src/PVE/RPCEnvironment.pm',
        fn: '$compile_acl_path, permissions, get_effective_permissions',
        lines: { '8.4': '19-119, 136-176, 241-289', '9.x': '19-119, 136-176, 241-289' },
      },
    ],
    adapter: '`vmconform preflight` reads it per path the adapter needs (path=) and names each privilege missing.',
  },
  {
    id: 'B-PERM-3',
    endpoint: 'GET /nodes/{node}/status, GET /cluster/resources (type=node)',
    real: 'Node status needs Sys.Audit on /nodes/{node}: otherwise HTTP 403 `Permission check failed (/nodes/<node>, Sys.Audit)`. /cluster/resources still lists the node and its status (online) but without uptime, cpu, mem, disk and their maxima.',
    kind: 'visibility',
    releases: both,
    sources: [
      { repo: 'pve-manager', file: 'PVE/API2/Nodes.pm', fn: 'status', lines: { '8.4': '389-393', '9.x': '353-357' } },
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Cluster.pm',
        fn: 'resources (node entries)',
        lines: { '8.4': '534-536', '9.x': '622-624' },
      },
      {
        repo: 'pve-manager',
        file: 'PVE/API2Tools.pm',
        fn: 'extract_node_stats $exclude_stats',
        lines: { '8.4': '61-101', '9.x': '38-79' },
      },
    ],
    adapter:
      'platformInfo() leaves the hypervisor version out on a 403; hosts() then has no capacity figures, which `vmconform preflight` names (INV-01, INV-04).',
  },
  {
    id: 'B-OPTS-1',
    endpoint: 'GET /cluster/options',
    real: "Any caller gets `allowed-tags` (the tags it may set: the user-allow-list, every VM's tags when user-tag-access is free or existing, less registered-tags unless it holds Sys.Modify on /); the rest of datacenter.cfg (user-tag-access, registered-tags) only with Sys.Audit on /, otherwise only console and tag-style. Setting a tag outside them needs Sys.Modify on /: HTTP 403 `Permission check failed (/, Sys.Modify for modifying tag '<tag>')`.",
    kind: 'visibility',
    releases: both,
    sources: [
      {
        repo: 'pve-manager',
        file: 'PVE/API2/Cluster.pm',
        fn: 'get_options',
        lines: { '8.4': '655-695', '9.x': '774-826' },
      },
      {
        repo: 'pve-guest-common',
        file: 'src/PVE/GuestHelpers.pm',
        fn: 'get_allowed_tags, assert_tag_permissions',
        lines: { '9.x': '271-312, 314-347' },
      },
    ],
    adapter:
      '`vmconform preflight` confirms the ownership tags (vmconform, vmc-run.<id>, ...) may be set: Sys.Modify on /, or user-tag-access free with none of them registered.',
  },
];

/** What the source shows differing between the two release modes (the rows say how each is modelled). */
export const releaseDifferences = [
  'Guest agent privileges: 8.4 checks VM.Monitor; 9.x VM.GuestAgent.Audit / .FileRead (or .Unrestricted) (B-PERM-1).',
  'Config update: 8.4 checks the lock under the config lock before forking, 9.x (qemu-server 9.1.19, "api: update vm: fork before locking") in an early check before forking; both refuse synchronously (B-LOCK-2).',
  'Resize: identical in qemu-server 8.4.10 and 9.2.6 apart from the block-resize helper it calls; both check the lock inside the task (B-LOCK-1). Only 7.x resized synchronously.',
  "Schema (pve-docs api-viewer, 9.1.3 vs 8.4.0): 9.x's /nodes/{node}/status requires memory.available, and /cluster/resources and the VM lists gain fields; the simulator answers as the mode's schema says.",
];

/**
 * What the table cannot settle and `vmconform preflight -p proxmox` cannot see: a first run on a real
 * cluster confirms these (each is read from source or docs, none observed).
 */
export const realClusterConfirms = [
  "Every row above: they are read from source at the named commits; a cluster's own packages (`pveversion -v`) may differ. A first run's transcript shows each lock, task exit and error text as the cluster words it.",
  'Timing the simulator only approximates: pvestatd lag (B-RES-1, 10 s), the 1 s clone lock wait (B-CLONE-2), how long a reboot takes to come back (B-REBOOT-1), task durations under the wait policies.',
  "The template's image runs qemu-guest-agent and the VMC guest protocol: the preflight sees only the template's `agent` flag, a boot shows the rest.",
  'User data: qm-cloud-init.adoc says cicustom files must be on a storage with the snippets content type, but qemu-server reads them by path at start (Cloudinit.pm read_cloudinit_snippets_file) and the simulator refuses a missing file already at config time; that the snippets directory the harness writes is the one the node reads (an NFS or shared mount) only a boot proves.',
  "Privileges the simulator lists but does not enforce (the VM.Config ones, VM.Allocate, VM.Clone, the Datastore ones, SDN.Use, pool ACLs): it checks only Sys.Audit, Sys.Modify for tags and the guest agent's (B-PERM-1..3, B-OPTS-1). The preflight reads the cluster's real ACLs; a run confirms each call's check.",
  'The tag policy when the token has neither Sys.Audit nor Sys.Modify on /: the preflight reports it unconfirmed; the first create shows it.',
  'Bridges in SDN zones other than localnetwork, VLAN-aware bridges and storages other than dir and lvmthin (sizes round per storage type: B-SIZE-1 models lvmthin only).',
];

/** BEHAVIOUR.md: the table, rendered from `behaviours`. */
export function renderBehaviours(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const src = (s: Source) =>
    `${s.repo} \`${s.file}\` ${s.fn}: ${Object.entries(s.lines)
      .map(([r, l]) => `${(upstream[s.repo] as Partial<Record<Release, string>>)[r as Release] ?? r} L${l}`)
      .join('; ')}`;
  const out = [
    '# Proxmox simulator: behaviours modelled on Proxmox VE source',
    '',
    'Rendered from `behaviours.ts` (do not edit by hand). Each row is a **modelled expectation** read from',
    'upstream source at the named commit, not a finding on a real cluster. The simulator reproduces it in the',
    'release modes listed; `behaviours.test.ts` checks each row by its id in each mode.',
    '',
    `Release modes: ${Object.entries(releaseModes)
      .map(([r, v]) => `${r} (reports ${v})`)
      .join(', ')}.`,
    '',
    '| id | endpoint | real Proxmox | kind | releases | upstream | adapter | test |',
    '|---|---|---|---|---|---|---|---|',
    ...behaviours.map(
      (b) =>
        `| ${b.id} | ${cell(b.endpoint)} | ${cell(b.real)} | ${b.kind} | ${b.releases.join(', ')} | ${cell(
          b.sources.map(src).join('<br>'),
        )} | ${cell(b.adapter)} | behaviours.test.ts › ${b.id} |`,
    ),
    '',
    '## 8.4 and 9.x',
    '',
    ...releaseDifferences.map((d) => `- ${d}`),
    '',
    '## Before and on a real cluster',
    '',
    '`vmconform preflight -p proxmox -c <config>` (`--json` for a machine) checks before a run what the',
    "cluster can answer: the release, the node, the template, the token's own privileges per path",
    "(B-PERM-2) against what each adapter call needs, the storages' content types (images, snippets,",
    'backup), the snippets directory and the ownership tag policy (B-OPTS-1). Each gap names the calls it',
    'breaks and the requirements it leaves without a verdict; it exits 0 only when there is none. What a',
    'first run must still confirm:',
    '',
    ...realClusterConfirms.map((d) => `- ${d}`),
    '',
  ];
  return out.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1])) process.stdout.write(renderBehaviours());
