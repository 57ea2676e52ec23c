// The DBOS baseline of `bench engine`: the same workflow (four sequential steps, each taking the step number and
// returning it) as a DBOS Transact workflow over PostgreSQL, driven the same way: C client loops in this one Node
// process, each starting a workflow and waiting for its result, then starting the next; a warm-up first that is not
// measured; then N workflows measured. Prints exactly one JSON line on stdout in the shape of bench engine's row;
// progress goes to stderr. Exit codes: 0 done, 1 the run failed, 2 bad command line.
//
//   node bench.mjs --database-url postgresql://USER@HOST:PORT/DB [--count N] [--concurrency C] [--warmup W]
//                  [--warmup-seconds S] [--pool P] [--postgres-pid PID]
//
// run.sh starts a throwaway PostgreSQL cluster and runs this; see docs/performance.md.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';

const STEPS_PER_WORKFLOW = 4;
const OPERATION_TIMEOUT_MS = 30_000;
const PROGRESS_INTERVAL_MS = 2_000;
const DEFAULT_WARMUP_SECONDS = 20;

class UsageError extends Error {}

const OPTIONS = ['--database-url', '--count', '--concurrency', '--warmup', '--warmup-seconds', '--pool', '--postgres-pid'];

function usage() {
  return `usage: node bench.mjs --database-url URL [options]
  --database-url URL     the DBOS system database (created by DBOS when missing); must be a fresh one
  --count N              workflows measured (default 1000)
  --concurrency C        client loops, each starting a workflow and waiting for its result (default 8)
  --warmup W             workflows run first and not measured, at least (default min(200, N))
  --warmup-seconds S     ...and the warm-up goes on until S seconds have passed (default ${DEFAULT_WARMUP_SECONDS}; 0 for none)
  --pool P               connections in DBOS's system database pool (default max(10, C): DBOS's default is 10)
  --postgres-pid PID     the postmaster's pid: the server's CPU time over the measured loop is added to the row
`;
}

function parseArgs(argv) {
  const values = new Map();
  for (let i = 0; i < argv.length; i++) {
    let name = argv[i];
    let value;
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!name.startsWith('--')) throw new UsageError(`unexpected argument '${name}': options are written --name value`);
    if (!OPTIONS.includes(name)) throw new UsageError(`unknown option '${name}' (valid: ${OPTIONS.join(', ')})`);
    if (value === undefined) {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`${name} needs a value`);
      value = argv[++i];
    }
    if (values.has(name)) throw new UsageError(`${name} is given more than once`);
    values.set(name, value);
  }

  const integer = (name, fallback, minimum) => {
    if (!values.has(name)) return fallback;
    const text = values.get(name);
    if (!/^[0-9]+$/.test(text) || Number(text) < minimum || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`${name} must be a ${minimum > 0 ? 'positive' : 'non-negative'} integer, got '${text}'`);
    }
    return Number(text);
  };

  const databaseUrl = values.get('--database-url') ?? process.env.DBOS_SYSTEM_DATABASE_URL;
  if (!databaseUrl) throw new UsageError('--database-url is required (or set DBOS_SYSTEM_DATABASE_URL)');
  const count = integer('--count', 1000, 1);
  const concurrency = integer('--concurrency', 8, 1);
  return {
    databaseUrl,
    count,
    concurrency,
    warmupMinimum: integer('--warmup', Math.min(200, count), 0),
    warmupSeconds: integer('--warmup-seconds', DEFAULT_WARMUP_SECONDS, 0),
    pool: integer('--pool', Math.max(10, concurrency), 1),
    postgresPid: values.has('--postgres-pid') ? integer('--postgres-pid', 0, 1) : null,
  };
}

// The step: the activity of bench engine (it returns its input). A registered DBOS step, so each call inside the
// workflow is checkpointed in the system database before the workflow goes on.
const noop = DBOS.registerStep(async (step) => step, { name: 'bench-noop' });

// The workflow: four steps one after another, returning the last step's output.
const fourSteps = DBOS.registerWorkflow(
  async (_index) => {
    let last = 0;
    for (let step = 1; step <= STEPS_PER_WORKFLOW; step++) {
      last = await noop(step);
    }
    return last;
  },
  { name: 'bench-four-steps' },
);

class BenchmarkFailed extends Error {}

async function runWorkflow(index) {
  const handle = await DBOS.startWorkflow(fourSteps)(index);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new BenchmarkFailed(`workflow ${handle.workflowID} (operation ${index}) did not finish within ${OPERATION_TIMEOUT_MS / 1000} s`)),
      OPERATION_TIMEOUT_MS,
    );
  });
  try {
    const result = await Promise.race([handle.getResult(), timeout]);
    if (result !== STEPS_PER_WORKFLOW) {
      throw new BenchmarkFailed(`workflow ${handle.workflowID} returned ${JSON.stringify(result)}, expected ${STEPS_PER_WORKFLOW}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

// Closed loops, as bench/Harness/ClosedLoop.cs: `concurrency` loops each take the next index while `more(index,
// elapsedMs)` holds, run the operation and record its latency. The first failure stops every loop.
async function runLoops(label, more, concurrency, record, ofTotal) {
  let next = -1;
  let completed = 0;
  let failed = null;
  const started = performance.now();

  const loop = async () => {
    for (;;) {
      if (failed) return;
      const index = ++next;
      if (!more(index, performance.now() - started)) return;
      const begin = performance.now();
      try {
        await runWorkflow(index);
      } catch (error) {
        failed ??= error;
        return;
      }
      record?.(index, performance.now() - begin);
      completed++;
    }
  };

  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`${label}: ${completed}${ofTotal} done, ${(completed / seconds).toFixed(1)}/s\n`);
  }, PROGRESS_INTERVAL_MS);
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    clearInterval(progress);
  }
  if (failed) throw failed instanceof BenchmarkFailed ? failed : new BenchmarkFailed(`${label}: ${failed?.stack ?? failed}`);
  return { completed, elapsedMs: performance.now() - started };
}

// Nearest rank, as bench/Harness/LatencyStats.cs.
function percentile(sorted, percent) {
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

// CPU time (µs) of the PostgreSQL server: the postmaster's own and its reaped children's (utime, stime, cutime,
// cstime), plus that of its live children (the backends serving the pool, the WAL writer, the checkpointer...).
// Read from /proc; clock ticks are 100 per second on Linux.
function postgresCpuMicros(postmaster) {
  const ticks = (pid, withChildren) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3 of stat); utime is field 14, stime 15, cutime 16, cstime 17.
    const own = Number(fields[11]) + Number(fields[12]);
    return withChildren ? own + Number(fields[13]) + Number(fields[14]) : own;
  };
  let total = ticks(postmaster, true);
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim();
  for (const child of children ? children.split(/\s+/) : []) {
    try {
      total += ticks(child, false);
    } catch {
      // The child exited between the listing and the read; its time is in the postmaster's cutime once reaped.
    }
  }
  return (total * 1_000_000) / 100;
}

// The server settings that decide what a commit costs, as the server reports them (the row records them).
async function serverSettings(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const settings = {};
    for (const name of ['server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'commit_delay']) {
      const { rows } = await client.query(`SHOW ${name}`);
      settings[name] = rows[0][name];
    }
    return settings;
  } finally {
    await client.end();
  }
}

// The server's current write-ahead log position, in bytes.
async function walPosition(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS bytes`);
    return rows[0].bytes;
  } finally {
    await client.end();
  }
}

function nodeCpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main() {
  let options;
  try {
    const argv = process.argv.slice(2);
    if (argv.some((a) => a === '-h' || a === '--help')) {
      process.stdout.write(usage());
      return 0;
    }
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`bench dbos: ${error.message}\n${usage()}`);
      return 2;
    }
    throw error;
  }

  DBOS.setConfig({
    name: 'kata-bench-dbos',
    applicationVersion: '0.1.0',
    systemDatabaseUrl: options.databaseUrl,
    systemDatabasePoolSize: options.pool,
    logLevel: 'warn',
  });
  await DBOS.launch();
  try {
    const settings = await serverSettings(options.databaseUrl);
    process.stderr.write(
      `dbos: ${options.count} workflows from ${options.concurrency} clients after a warm-up of at least ${options.warmupMinimum} and ${options.warmupSeconds} s; pool ${options.pool}\n`,
    );

    const warmup =
      options.warmupMinimum === 0 && options.warmupSeconds === 0
        ? { completed: 0, elapsedMs: 0 }
        : await runLoops(
            'warm-up',
            (index, elapsedMs) => index < options.warmupMinimum || elapsedMs < options.warmupSeconds * 1000,
            options.concurrency,
            null,
            '',
          );

    const latencies = new Float64Array(options.count);
    const walBefore = await walPosition(options.databaseUrl);
    const cpuBefore = nodeCpuMicros();
    const postgresBefore = options.postgresPid ? postgresCpuMicros(options.postgresPid) : null;
    const result = await runLoops(
      'dbos',
      (index) => index < options.count,
      Math.min(options.concurrency, options.count),
      (index, ms) => (latencies[index] = ms),
      `/${options.count}`,
    );
    const nodeCpu = nodeCpuMicros() - cpuBefore;
    const postgresCpu = options.postgresPid ? postgresCpuMicros(options.postgresPid) - postgresBefore : null;
    const walBytes = Number(BigInt(await walPosition(options.databaseUrl)) - BigInt(walBefore));
    latencies.sort();
    const perSecond = result.completed / (result.elapsedMs / 1000);
    const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;
    const row = {
      benchmark: 'dbos',
      store: 'postgresql',
      synchronous: settings.synchronous_commit,
      count: options.count,
      concurrency: options.concurrency,
      warmupOps: warmup.completed,
      warmupSec: round(warmup.elapsedMs / 1000, 1),
      ids: 'random',
      workflowsPerSec: round(perSecond, 1),
      stepsPerSec: round(perSecond * STEPS_PER_WORKFLOW, 1),
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
      maxMs: round(latencies[latencies.length - 1], 2),
      elapsedSec: round(result.elapsedMs / 1000, 3),
      // The Node process and the PostgreSQL server together: what the engine's figure covers in its one process.
      cpuUsPerWorkflow: postgresCpu === null ? null : round((nodeCpu + postgresCpu) / options.count, 1),
      nodeCpuUsPerWorkflow: round(nodeCpu / options.count, 1),
      postgresCpuUsPerWorkflow: postgresCpu === null ? null : round(postgresCpu / options.count, 1),
      // Write-ahead log written over the measured loop, per workflow (pg_current_wal_lsn before and after).
      walKbPerWorkflow: round(walBytes / 1024 / options.count, 2),
      // V8 keeps no count of the bytes it allocated, so this has no DBOS figure.
      allocatedKbPerWorkflow: null,
      pool: options.pool,
      dbosVersion: JSON.parse(readFileSync(new URL('./node_modules/@dbos-inc/dbos-sdk/package.json', import.meta.url), 'utf8')).version,
      nodeVersion: process.versions.node,
      postgres: settings,
    };
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return 0;
  } finally {
    await DBOS.shutdown();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench dbos: FAILED: ${error instanceof BenchmarkFailed ? error.message : (error?.stack ?? error)}\n`);
    process.exit(1);
  },
);
