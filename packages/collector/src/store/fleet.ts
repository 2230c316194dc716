import type Database from 'better-sqlite3';
import type { SerializedRun } from './section.ts';
import { StatementCache } from './statements.ts';

export interface NewEnrollmentToken {
  id: string;
  /** Hex SHA-256 of the token's secret part; the token itself is never stored. */
  secretSha256: string;
  description: string;
  createdAt: number;
  expiresAt: number | null;
  maxUses: number | null;
}

export interface EnrollmentToken extends NewEnrollmentToken {
  uses: number;
  revokedAt: number | null;
}

/** Why an enrollment token cannot be used, or 'ok' once the use was counted. */
export type TokenUse = 'ok' | 'unknown' | 'revoked' | 'expired' | 'used_up';

/** What the fleet keeps about an agent beyond its registration. */
export interface AgentFleetState {
  agentId: string;
  revokedAt: number | null;
  /** Labels set by an admin, merged over the agent's own; null when never set. */
  adminLabels: Record<string, string> | null;
  /** Client address of the last heartbeat (X-Forwarded-For only from trusted proxies). */
  remoteAddress: string | null;
}

export interface Reregistration {
  agentId: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  secretSha256: string;
}

/** 'reissued': same id, new secret. Otherwise why the id cannot be kept. */
export type ReregisterOutcome = 'reissued' | 'unknown' | 'revoked' | 'other_host';

export interface NewConfigVersion {
  /** "agent:<id>" or "labels:<k>=<v>,…" (keys sorted). */
  target: string;
  /** The agent YAML; null removes the target's remote config. */
  yaml: string | null;
  sha256: string | null;
  comment: string;
  createdAt: number;
  rollbackOf: number | null;
}

export interface ConfigVersion extends NewConfigVersion {
  version: number;
}

export type CommandStatus =
  | 'queued'
  | 'delivered'
  | 'succeeded'
  | 'failed'
  | 'expired'
  | 'awaiting_verification';

export interface NewCommand {
  id: string;
  agentId: string;
  type: string;
  args: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
}

export interface StoredCommand extends NewCommand {
  status: CommandStatus;
  deliveredAt: number | null;
  deliveries: number;
  finishedAt: number | null;
  result: Record<string, unknown> | null;
}

export interface CommandResult {
  status: 'succeeded' | 'failed' | 'awaiting_verification';
  result: Record<string, unknown>;
  at: number;
}

/** The agent process behind a heartbeat; instanceId is null for agents that do not send one. */
export interface ReportedProcess {
  version: string;
  instanceId: string | null;
}

export type FinishOutcome = 'ok' | 'unknown' | 'other_agent' | 'already_finished';

export interface PluginPackageInfo {
  name: string;
  version: string;
  /** Hex SHA-256 of the bundle (the manifest's entry): what an agent verifies when installing. */
  sha256: string;
  /** Hex SHA-256 of the .tgz as uploaded. */
  packageSha256: string;
  manifest: Record<string, unknown>;
  size: number;
  uploadedAt: number;
}

/** 'same': that name@version is already stored with the same bundle; 'conflict': with another one. */
export type PutPackageOutcome = 'stored' | 'same' | 'conflict';

/** 'assigned' carries the targets whose assignment still names the version: nothing was removed. */
export type RemovePackageOutcome =
  | { outcome: 'removed' }
  | { outcome: 'missing' }
  | { outcome: 'assigned'; targets: string[] };

export interface PluginAssignment {
  /** Same form as config targets: "agent:<id>" or "labels:<k>=<v>,…". */
  target: string;
  name: string;
  /** null: agents of the target remove the plugin. */
  version: string | null;
  /** null: the plugin's config is left as the agent has it. */
  config: Record<string, unknown> | null;
  /** null: left as the agent has it. */
  enabled: boolean | null;
  updatedAt: number;
}

/**
 * Fleet control state: enrollment tokens, agent revocation and labels, config documents and their
 * targets, and per-agent command queues. Every method is async so a PostgreSQL implementation can
 * sit behind the same interface; each one is atomic on its own.
 */
export interface FleetStore {
  createEnrollmentToken(token: NewEnrollmentToken): Promise<void>;
  getEnrollmentToken(id: string): Promise<EnrollmentToken | undefined>;
  listEnrollmentTokens(): Promise<EnrollmentToken[]>;
  /** Counts one use if the token is still usable at `now`; says why not otherwise. */
  useEnrollmentToken(id: string, now: number): Promise<TokenUse>;
  /** False when the token is unknown or already revoked. */
  revokeEnrollmentToken(id: string, now: number): Promise<boolean>;

  getAgentState(agentId: string): Promise<AgentFleetState | undefined>;
  listAgentStates(): Promise<AgentFleetState[]>;
  /** Gives a known, unrevoked agent of the same hostname a new secret, keeping its id. */
  reregisterAgent(agent: Reregistration): Promise<ReregisterOutcome>;
  /** Its secret stops matching at once. False when unknown or already revoked. */
  revokeAgent(agentId: string, now: number): Promise<boolean>;
  setAdminLabels(agentId: string, labels: Record<string, string> | null): Promise<boolean>;
  noteRemoteAddress(agentId: string, address: string): Promise<void>;

  pushConfig(version: NewConfigVersion): Promise<ConfigVersion>;
  getConfigVersion(version: number): Promise<ConfigVersion | undefined>;
  /** The newest version of every target, removed ones included. */
  currentConfigs(): Promise<ConfigVersion[]>;
  /** Newest first. */
  configHistory(target: string, limit: number): Promise<ConfigVersion[]>;

  queueCommand(command: NewCommand): Promise<void>;
  getCommand(id: string): Promise<StoredCommand | undefined>;
  /** Newest first. */
  listCommands(agentId: string, limit: number): Promise<StoredCommand[]>;
  /**
   * The agent's unfinished commands, oldest first, counted as delivered; those past their expiry
   * become 'expired' and are not returned.
   */
  deliverCommands(agentId: string, now: number): Promise<StoredCommand[]>;
  finishCommand(agentId: string, id: string, result: CommandResult): Promise<FinishOutcome>;
  /**
   * Settles the agent's upgrades awaiting verification against the version it now reports, skipping
   * those whose result names the reporting process (`instanceId`): it has not restarted yet.
   */
  verifyUpgrades(agentId: string, reported: ReportedProcess, now: number): Promise<StoredCommand[]>;

  putPluginPackage(info: PluginPackageInfo, data: Uint8Array): Promise<PutPackageOutcome>;
  /** Every stored package (of one plugin when `name` is given), by name then upload time. */
  listPluginPackages(name?: string): Promise<PluginPackageInfo[]>;
  getPluginPackage(name: string, version: string): Promise<PluginPackageInfo | undefined>;
  /** The .tgz bytes as uploaded. */
  readPluginPackage(name: string, version: string): Promise<Uint8Array | undefined>;
  /** Deletes a package unless an assignment names it; the check and the delete are one transaction. */
  removePluginPackage(name: string, version: string): Promise<RemovePackageOutcome>;
  /** Sets what a target runs of one plugin, replacing the target's previous assignment of it. */
  assignPlugin(assignment: PluginAssignment): Promise<void>;
  listPluginAssignments(): Promise<PluginAssignment[]>;
  /** The target's agents stop being told anything about the plugin. False when there was no assignment. */
  removePluginAssignment(target: string, name: string): Promise<boolean>;
}

interface TokenRow {
  id: string;
  secret_sha256: string;
  description: string;
  created_at: number;
  expires_at: number | null;
  max_uses: number | null;
  uses: number;
  revoked_at: number | null;
}

interface AgentStateRow {
  id: string;
  hostname: string;
  revoked_at: number | null;
  admin_labels: string | null;
  remote_address: string | null;
}

interface ConfigRow {
  version: number;
  target: string;
  yaml: string | null;
  sha256: string | null;
  comment: string;
  created_at: number;
  rollback_of: number | null;
}

interface CommandRow {
  id: string;
  agent_id: string;
  type: string;
  args: string;
  status: CommandStatus;
  created_at: number;
  expires_at: number;
  delivered_at: number | null;
  deliveries: number;
  finished_at: number | null;
  result: string | null;
}

interface PackageRow {
  name: string;
  version: string;
  sha256: string;
  package_sha256: string;
  manifest: string;
  size: number;
  uploaded_at: number;
}

interface AssignmentRow {
  target: string;
  name: string;
  version: string | null;
  config: string | null;
  enabled: number | null;
  updated_at: number;
}

const UNFINISHED = `status IN ('queued', 'delivered')`;
const PACKAGE_COLUMNS = 'name, version, sha256, package_sha256, manifest, size, uploaded_at';

export class SqliteFleetStore implements FleetStore {
  readonly #db: Database.Database;
  readonly #run: SerializedRun;
  readonly #sql: StatementCache;

  constructor(db: Database.Database, run: SerializedRun) {
    this.#db = db;
    this.#sql = new StatementCache(db);
    this.#run = run;
  }

  createEnrollmentToken(token: NewEnrollmentToken): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO enrollment_tokens (id, secret_sha256, description, created_at, expires_at, max_uses)
         VALUES (@id, @secretSha256, @description, @createdAt, @expiresAt, @maxUses)`,
        )
        .run(token);
    });
  }

  getEnrollmentToken(id: string): Promise<EnrollmentToken | undefined> {
    return this.#run(() => {
      const row = this.#sql.get('SELECT * FROM enrollment_tokens WHERE id = ?').get(id) as
        | TokenRow
        | undefined;
      return row && toToken(row);
    });
  }

  listEnrollmentTokens(): Promise<EnrollmentToken[]> {
    return this.#run(() =>
      (this.#sql.get('SELECT * FROM enrollment_tokens ORDER BY created_at, id').all() as TokenRow[]).map(
        toToken,
      ),
    );
  }

  useEnrollmentToken(id: string, now: number): Promise<TokenUse> {
    return this.#run(() => {
      // One conditional UPDATE: two registrations racing for the last use cannot both get it.
      const counted = this.#sql
        .get(
          `UPDATE enrollment_tokens SET uses = uses + 1
         WHERE id = @id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)
           AND (max_uses IS NULL OR uses < max_uses)`,
        )
        .run({ id, now }).changes;
      if (counted > 0) return 'ok';
      const row = this.#sql.get('SELECT * FROM enrollment_tokens WHERE id = ?').get(id) as
        | TokenRow
        | undefined;
      if (!row) return 'unknown';
      if (row.revoked_at !== null) return 'revoked';
      if (row.expires_at !== null && row.expires_at <= now) return 'expired';
      return 'used_up';
    });
  }

  revokeEnrollmentToken(id: string, now: number): Promise<boolean> {
    return this.#run(
      () =>
        this.#sql
          .get('UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
          .run(now, id).changes > 0,
    );
  }

  getAgentState(agentId: string): Promise<AgentFleetState | undefined> {
    return this.#run(() => {
      const row = this.#sql
        .get('SELECT id, hostname, revoked_at, admin_labels, remote_address FROM agents WHERE id = ?')
        .get(agentId) as AgentStateRow | undefined;
      return row && toAgentState(row);
    });
  }

  listAgentStates(): Promise<AgentFleetState[]> {
    return this.#run(() =>
      (
        this.#sql
          .get(
            'SELECT id, hostname, revoked_at, admin_labels, remote_address FROM agents ORDER BY registered_at, id',
          )
          .all() as AgentStateRow[]
      ).map(toAgentState),
    );
  }

  reregisterAgent(agent: Reregistration): Promise<ReregisterOutcome> {
    return this.#run(() => {
      const row = this.#sql
        .get('SELECT id, hostname, revoked_at FROM agents WHERE id = ?')
        .get(agent.agentId) as AgentStateRow | undefined;
      if (!row) return 'unknown';
      if (row.revoked_at !== null) return 'revoked';
      if (row.hostname !== agent.hostname) return 'other_host';
      this.#sql
        .get(
          `UPDATE agents SET secret_sha256 = @secretSha256, labels = @labels, version = @version
         WHERE id = @agentId`,
        )
        .run({ ...agent, labels: JSON.stringify(agent.labels) });
      return 'reissued';
    });
  }

  revokeAgent(agentId: string, now: number): Promise<boolean> {
    return this.#run(
      () =>
        // An empty digest never equals the SHA-256 of any secret, so every credential of the agent
        // fails from this commit on, without the auth path having to look at revoked_at.
        this.#sql
          .get(`UPDATE agents SET revoked_at = ?, secret_sha256 = '' WHERE id = ? AND revoked_at IS NULL`)
          .run(now, agentId).changes > 0,
    );
  }

  setAdminLabels(agentId: string, labels: Record<string, string> | null): Promise<boolean> {
    return this.#run(
      () =>
        this.#sql
          .get('UPDATE agents SET admin_labels = ? WHERE id = ?')
          .run(labels === null ? null : JSON.stringify(labels), agentId).changes > 0,
    );
  }

  noteRemoteAddress(agentId: string, address: string): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get('UPDATE agents SET remote_address = ? WHERE id = ? AND remote_address IS NOT ?')
        .run(address, agentId, address);
    });
  }

  pushConfig(version: NewConfigVersion): Promise<ConfigVersion> {
    return this.#run(() => {
      const id = this.#sql
        .get(
          `INSERT INTO config_versions (target, yaml, sha256, comment, created_at, rollback_of)
         VALUES (@target, @yaml, @sha256, @comment, @createdAt, @rollbackOf)`,
        )
        .run(version).lastInsertRowid;
      return { ...version, version: Number(id) };
    });
  }

  getConfigVersion(version: number): Promise<ConfigVersion | undefined> {
    return this.#run(() => {
      const row = this.#sql.get('SELECT * FROM config_versions WHERE version = ?').get(version) as
        | ConfigRow
        | undefined;
      return row && toConfig(row);
    });
  }

  currentConfigs(): Promise<ConfigVersion[]> {
    return this.#run(() =>
      (
        this.#sql
          .get(
            `SELECT * FROM config_versions WHERE version IN
             (SELECT MAX(version) FROM config_versions GROUP BY target)
           ORDER BY target`,
          )
          .all() as ConfigRow[]
      ).map(toConfig),
    );
  }

  configHistory(target: string, limit: number): Promise<ConfigVersion[]> {
    return this.#run(() =>
      (
        this.#sql
          .get('SELECT * FROM config_versions WHERE target = ? ORDER BY version DESC LIMIT ?')
          .all(target, limit) as ConfigRow[]
      ).map(toConfig),
    );
  }

  queueCommand(command: NewCommand): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO agent_commands (id, agent_id, type, args, status, created_at, expires_at)
         VALUES (@id, @agentId, @type, @args, 'queued', @createdAt, @expiresAt)`,
        )
        .run({ ...command, args: JSON.stringify(command.args) });
    });
  }

  getCommand(id: string): Promise<StoredCommand | undefined> {
    return this.#run(() => {
      const row = this.#sql.get('SELECT * FROM agent_commands WHERE id = ?').get(id) as
        | CommandRow
        | undefined;
      return row && toCommand(row);
    });
  }

  listCommands(agentId: string, limit: number): Promise<StoredCommand[]> {
    return this.#run(() =>
      (
        this.#sql
          .get('SELECT * FROM agent_commands WHERE agent_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?')
          .all(agentId, limit) as CommandRow[]
      ).map(toCommand),
    );
  }

  deliverCommands(agentId: string, now: number): Promise<StoredCommand[]> {
    return this.#run(() => {
      const tx = this.#db.transaction(() => {
        this.#sql
          .get(
            `UPDATE agent_commands SET status = 'expired', finished_at = @now
           WHERE agent_id = @agentId AND ${UNFINISHED} AND expires_at <= @now`,
          )
          .run({ agentId, now });
        this.#sql
          .get(
            `UPDATE agent_commands SET status = 'delivered', delivered_at = @now, deliveries = deliveries + 1
           WHERE agent_id = @agentId AND ${UNFINISHED}`,
          )
          .run({ agentId, now });
        return (
          this.#sql
            .get(
              `SELECT * FROM agent_commands WHERE agent_id = ? AND ${UNFINISHED} ORDER BY created_at, rowid`,
            )
            .all(agentId) as CommandRow[]
        ).map(toCommand);
      });
      return tx.immediate();
    });
  }

  finishCommand(agentId: string, id: string, result: CommandResult): Promise<FinishOutcome> {
    return this.#run(() => {
      const row = this.#sql.get('SELECT agent_id, status FROM agent_commands WHERE id = ?').get(id) as
        | Pick<CommandRow, 'agent_id' | 'status'>
        | undefined;
      if (!row) return 'unknown';
      if (row.agent_id !== agentId) return 'other_agent';
      const changed = this.#sql
        .get(
          `UPDATE agent_commands SET status = @status, result = @result, finished_at = @at
         WHERE id = @id AND ${UNFINISHED}`,
        )
        .run({ id, status: result.status, result: JSON.stringify(result.result), at: result.at }).changes;
      return changed > 0 ? 'ok' : 'already_finished';
    });
  }

  verifyUpgrades(agentId: string, reported: ReportedProcess, now: number): Promise<StoredCommand[]> {
    const { version, instanceId } = reported;
    return this.#run(() => {
      const tx = this.#db.transaction(() => {
        const rows = this.#sql
          .get(`SELECT * FROM agent_commands WHERE agent_id = ? AND status = 'awaiting_verification'`)
          .all(agentId) as CommandRow[];
        const settled: StoredCommand[] = [];
        for (const row of rows) {
          const command = toCommand(row);
          const ranIn = (command.result?.data as { instanceId?: unknown } | undefined)?.instanceId;
          if (instanceId !== null && ranIn === instanceId) continue;
          const wanted = typeof command.args.version === 'string' ? command.args.version : undefined;
          const ok = wanted === undefined || wanted === version;
          const result = {
            ...(command.result ?? {}),
            reportedVersion: version,
            message: ok
              ? `agent came back running version ${version}`
              : `agent came back running version ${version}, not ${wanted}`,
          };
          const status: CommandStatus = ok ? 'succeeded' : 'failed';
          this.#sql
            .get('UPDATE agent_commands SET status = ?, result = ?, finished_at = ? WHERE id = ?')
            .run(status, JSON.stringify(result), now, row.id);
          settled.push({ ...command, status, result, finishedAt: now });
        }
        return settled;
      });
      return tx.immediate();
    });
  }

  putPluginPackage(info: PluginPackageInfo, data: Uint8Array): Promise<PutPackageOutcome> {
    return this.#run(() => {
      const existing = this.#sql
        .get('SELECT sha256 FROM plugin_packages WHERE name = ? AND version = ?')
        .get(info.name, info.version) as { sha256: string } | undefined;
      if (existing) return existing.sha256 === info.sha256 ? 'same' : 'conflict';
      this.#sql
        .get(
          `INSERT INTO plugin_packages (name, version, sha256, package_sha256, manifest, size, uploaded_at, data)
         VALUES (@name, @version, @sha256, @packageSha256, @manifest, @size, @uploadedAt, @data)`,
        )
        .run({ ...info, manifest: JSON.stringify(info.manifest), data: Buffer.from(data) });
      return 'stored';
    });
  }

  listPluginPackages(name?: string): Promise<PluginPackageInfo[]> {
    return this.#run(() => {
      const rows =
        name === undefined
          ? this.#sql
              .get(`SELECT ${PACKAGE_COLUMNS} FROM plugin_packages ORDER BY name, uploaded_at, rowid`)
              .all()
          : this.#sql
              .get(
                `SELECT ${PACKAGE_COLUMNS} FROM plugin_packages WHERE name = ? ORDER BY uploaded_at, rowid`,
              )
              .all(name);
      return (rows as PackageRow[]).map(toPackage);
    });
  }

  getPluginPackage(name: string, version: string): Promise<PluginPackageInfo | undefined> {
    return this.#run(() => {
      const row = this.#sql
        .get(`SELECT ${PACKAGE_COLUMNS} FROM plugin_packages WHERE name = ? AND version = ?`)
        .get(name, version) as PackageRow | undefined;
      return row && toPackage(row);
    });
  }

  readPluginPackage(name: string, version: string): Promise<Uint8Array | undefined> {
    return this.#run(() => {
      const row = this.#sql
        .get('SELECT data FROM plugin_packages WHERE name = ? AND version = ?')
        .get(name, version) as { data: Buffer } | undefined;
      return row?.data;
    });
  }

  removePluginPackage(name: string, version: string): Promise<RemovePackageOutcome> {
    return this.#run(() => {
      const tx = this.#db.transaction((): RemovePackageOutcome => {
        const targets = (
          this.#sql
            .get('SELECT target FROM plugin_assignments WHERE name = ? AND version = ? ORDER BY target')
            .all(name, version) as Array<{ target: string }>
        ).map((row) => row.target);
        if (targets.length > 0) return { outcome: 'assigned', targets };
        const { changes } = this.#sql
          .get('DELETE FROM plugin_packages WHERE name = ? AND version = ?')
          .run(name, version);
        return { outcome: changes > 0 ? 'removed' : 'missing' };
      });
      return tx.immediate();
    });
  }

  assignPlugin(assignment: PluginAssignment): Promise<void> {
    return this.#run(() => {
      this.#sql
        .get(
          `INSERT INTO plugin_assignments (target, name, version, config, enabled, updated_at)
         VALUES (@target, @name, @version, @config, @enabled, @updatedAt)
         ON CONFLICT (target, name) DO UPDATE SET version = excluded.version, config = excluded.config,
           enabled = excluded.enabled, updated_at = excluded.updated_at`,
        )
        .run({
          ...assignment,
          config: assignment.config === null ? null : JSON.stringify(assignment.config),
          enabled: assignment.enabled === null ? null : Number(assignment.enabled),
        });
    });
  }

  listPluginAssignments(): Promise<PluginAssignment[]> {
    return this.#run(() =>
      (this.#sql.get('SELECT * FROM plugin_assignments ORDER BY name, target').all() as AssignmentRow[]).map(
        (row) => ({
          target: row.target,
          name: row.name,
          version: row.version,
          config: row.config === null ? null : (JSON.parse(row.config) as Record<string, unknown>),
          enabled: row.enabled === null ? null : row.enabled === 1,
          updatedAt: row.updated_at,
        }),
      ),
    );
  }

  removePluginAssignment(target: string, name: string): Promise<boolean> {
    return this.#run(
      () =>
        this.#sql.get('DELETE FROM plugin_assignments WHERE target = ? AND name = ?').run(target, name)
          .changes > 0,
    );
  }
}

function toPackage(row: PackageRow): PluginPackageInfo {
  return {
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    packageSha256: row.package_sha256,
    manifest: JSON.parse(row.manifest) as Record<string, unknown>,
    size: row.size,
    uploadedAt: row.uploaded_at,
  };
}

function toToken(row: TokenRow): EnrollmentToken {
  return {
    id: row.id,
    secretSha256: row.secret_sha256,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    maxUses: row.max_uses,
    uses: row.uses,
    revokedAt: row.revoked_at,
  };
}

function toAgentState(row: AgentStateRow): AgentFleetState {
  return {
    agentId: row.id,
    revokedAt: row.revoked_at,
    adminLabels: row.admin_labels === null ? null : (JSON.parse(row.admin_labels) as Record<string, string>),
    remoteAddress: row.remote_address,
  };
}

function toConfig(row: ConfigRow): ConfigVersion {
  return {
    version: row.version,
    target: row.target,
    yaml: row.yaml,
    sha256: row.sha256,
    comment: row.comment,
    createdAt: row.created_at,
    rollbackOf: row.rollback_of,
  };
}

function toCommand(row: CommandRow): StoredCommand {
  return {
    id: row.id,
    agentId: row.agent_id,
    type: row.type,
    args: JSON.parse(row.args) as Record<string, unknown>,
    status: row.status,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    deliveredAt: row.delivered_at,
    deliveries: row.deliveries,
    finishedAt: row.finished_at,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
  };
}
