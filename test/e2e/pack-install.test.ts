/**
 * What an ops engineer does with a release: pack the packages, install the tarballs globally with
 * npm, and run the installed bins; then start the installed collector and agent on loopback and
 * see data arrive.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { agentYaml, Proc, repoRoot, tempDir, waitFor } from './harness.ts';

const run = promisify(execFile);
const PACKAGES = ['plugin-sdk', 'agent-core', 'collector'] as const;
/**
 * An install past this is a problem to report, not to wait out. The native addons compile from source
 * (no prebuilt downloads here): about a minute on an idle 2-core machine, over four minutes when loaded.
 */
const INSTALL_TIMEOUT_MS = 540_000;

// Installed bins run as a user runs them: without the workspace's source condition.
const userEnv = { ...process.env, NODE_OPTIONS: '' };

const work = tempDir('pack-install');
const prefix = join(work.path, 'prefix');
const bin = (name: string) => join(prefix, 'bin', name);
let installed = false;

process.on('exit', () => work[Symbol.dispose]());

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

test('pack-install: the packed tarballs install globally with npm', { timeout: 600_000 }, async () => {
  // agent-core and collector bundle @outpost/service into their dist: its sources count for both.
  const bundledSources = newestMtime(join(repoRoot, 'packages/service/src'));
  const stale = PACKAGES.some((name) => {
    const dist = join(repoRoot, 'packages', name, 'dist');
    if (!existsSync(dist)) return true;
    const sources = Math.max(newestMtime(join(repoRoot, 'packages', name, 'src')), bundledSources);
    return sources > newestMtime(dist);
  });
  if (stale) await run('pnpm', ['-r', 'build'], { cwd: repoRoot, env: process.env });

  const tarballs: string[] = [];
  for (const name of PACKAGES) {
    const dir = join(repoRoot, 'packages', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      bin?: Record<string, string>;
    };
    for (const script of Object.values(pkg.bin ?? {})) {
      assert.match(
        readFileSync(join(dir, script), 'utf8'),
        /^#!\/usr\/bin\/env node\n/,
        `${name}: ${script} has a shebang`,
      );
    }
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', work.path], { cwd: dir });
    const tarball = stdout.trim().split('\n').at(-1) as string;
    assert.ok(existsSync(tarball), `pnpm pack wrote ${tarball}`);
    tarballs.push(tarball);
  }
  // pnpm pack rewrote workspace:* to versions, which the registry does not have: all tarballs go
  // in one install so npm finds each other's there.
  try {
    await run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', ...tarballs],
      {
        cwd: work.path,
        timeout: INSTALL_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    assert.fail(
      e.killed
        ? `npm install took longer than ${INSTALL_TIMEOUT_MS / 1000} s (native builds or a slow registry)`
        : `npm install failed: ${e.stderr || e.message}`,
    );
  }
  for (const name of ['outpost-agent', 'agentctl', 'outpost-collector'])
    assert.ok(existsSync(bin(name)), `${name} installed`);
  // TypeScript users of the installed packages get declarations from dist/ (src/ is not shipped).
  for (const name of PACKAGES) {
    const dir = join(prefix, 'lib/node_modules/@outpost', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string }>;
    };
    assert.ok(existsSync(join(dir, 'dist/index.d.ts')), `${name}: dist/index.d.ts is installed`);
    for (const [entry, conditions] of Object.entries(pkg.exports)) {
      assert.match(conditions.types, /^\.\/dist\/.*\.d\.ts$/, `${name} ${entry}: types from dist`);
      assert.ok(existsSync(join(dir, conditions.types)), `${name} ${entry}: ${conditions.types} installed`);
    }
  }
  installed = true;
});

test('pack-install: the installed bins run', async (t) => {
  if (!installed) return t.skip('the install failed');
  const version = await run(bin('agentctl'), ['version', '--json'], { env: userEnv });
  const info = JSON.parse(version.stdout) as { agent: string; node: string };
  const agentPkg = JSON.parse(readFileSync(join(repoRoot, 'packages/agent-core/package.json'), 'utf8'));
  assert.equal(info.agent, agentPkg.version);
  assert.equal(info.node, process.versions.node);
  assert.match(
    (await run(bin('outpost-agent'), ['--help'], { env: userEnv })).stdout,
    /^Usage: outpost-agent/,
  );
  assert.match(
    (await run(bin('outpost-collector'), ['--help'], { env: userEnv })).stdout,
    /^Usage: outpost-collector/,
  );
  const unit = await run(bin('agentctl'), ['service', 'install', '--dry-run'], { env: userEnv });
  assert.match(
    unit.stdout,
    new RegExp(
      `^ExecStart=\\S+ ${prefix}/lib/node_modules/@outpost/agent-core/dist/cli/outpost-agent\\.js `,
      'm',
    ),
  );
});

test('pack-install: a plugin project scaffolded by the installed agentctl installs and tests offline', async (t) => {
  if (!installed) return t.skip('the install failed');
  using dir = tempDir('pack-install-plugin');
  const project = join(dir.path, 'edge-probe');
  await run(bin('agentctl'), ['plugin', 'new', project, '--capability', 'process'], { env: userEnv });
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
  const sdk = pkg.devDependencies['@outpost/plugin-sdk'] as string;
  assert.match(sdk, /^file:\/.*\/node_modules\/@outpost\/plugin-sdk$/);
  assert.ok(sdk.startsWith(`file:${prefix}/`), `${sdk}: the SDK installed with agentctl`);
  // --offline: the SDK is not on the registry, and nothing else may be needed from it. Without
  // NODE_TEST_CONTEXT, the project's node --test reports as text, not to this test runner.
  const env: NodeJS.ProcessEnv = { ...userEnv };
  delete env.NODE_TEST_CONTEXT;
  const npm = { cwd: project, env, timeout: 120_000 };
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], npm);
  const tested = await run('npm', ['test'], npm);
  assert.match(tested.stdout, /^ℹ pass 1$/m, tested.stdout);
});

test('pack-install: the installed collector receives data from the installed agent', async (t) => {
  if (!installed) return t.skip('the install failed');
  using dir = tempDir('pack-install-run');
  const collector = new Proc(
    'collector',
    [bin('outpost-collector'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'collector')],
    userEnv,
  );
  t.after(() => collector.stop('SIGKILL'));
  const listening = await collector.logLine('collector listening');
  const url = String(listening.url);
  const adminToken = readFileSync(String(listening.adminTokenFile), 'utf8').trim();
  const enrollmentToken = readFileSync(String(listening.enrollmentTokenFile), 'utf8').trim();

  const configPath = join(dir.path, 'agent.yaml');
  writeFileSync(configPath, agentYaml({ url, stateDir: join(dir.path, 'agent') }));
  const agent = new Proc('agent', [bin('outpost-agent'), '--config', configPath], {
    ...userEnv,
    OUTPOST_ENROLLMENT_TOKEN: enrollmentToken,
  });
  t.after(() => agent.stop('SIGKILL'));
  await agent.logLine('agent started');

  const stored = await waitFor(
    `metrics from the installed agent\n${agent.tail()}`,
    async () => {
      const res = await fetch(`${url}/api/v1/metrics?limit=10`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const page = (await res.json()) as { metrics: Array<{ name: string }> };
      return page.metrics.length > 0 ? page.metrics : undefined;
    },
    { timeoutMs: 30_000 },
  );
  assert.ok(
    stored.some((m) => /^(system|process)\./.test(m.name)),
    JSON.stringify(stored.slice(0, 3)),
  );
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^outpost_collector_ingest_records_total [1-9]\d*$/m);

  assert.deepEqual(await agent.stop('SIGTERM'), { code: 0, signal: null });
  assert.deepEqual(await collector.stop('SIGTERM'), { code: 0, signal: null });
});
