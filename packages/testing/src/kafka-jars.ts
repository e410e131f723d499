import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Resolves Apache Kafka (broker jars) from Maven Central into a per-machine cache outside the
 * repository (../shared/kafka.md section 1), and keeps a formatted empty KRaft data directory as a
 * template so a broker start copies it instead of running the storage tool (~1-1.6 s saved).
 * Parallel callers (vitest workers, `npm run kafka` twice) resolve once: a lock directory guards the
 * work and the result is published by an atomic rename.
 */
export const KAFKA_VERSION = '4.3.1';
const LOG4J_SLF4J_VERSION = '2.25.4';

export interface KafkaInstall {
  /** Cache root for this Kafka version. */
  readonly root: string;
  /** The broker's classpath: every jar, absolute paths, sorted (stable, so the CDS archive matches). */
  readonly classpath: string;
  /** A formatted empty data directory (meta.properties + bootstrap checkpoint), to be copied. */
  readonly templateDataDir: string;
  /** log4j2 configuration: INFO to ${kafka.logs.dir}/server.log, nothing on stdout. */
  readonly log4jConfig: string;
  /** AppCDS archive path (may not exist yet: the first broker start creates it). */
  readonly cdsArchive: string;
}

export function kafkaCacheRoot(): string {
  const base = process.env.RIVULET_KAFKA_CACHE ?? join(homedir(), '.cache', 'rivulet-kafka');
  return join(base, KAFKA_VERSION);
}

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local.rivulet</groupId><artifactId>kafka-broker-deps</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_SLF4J_VERSION}</version></dependency>
  </dependencies></project>
`;

const LOG4J = `appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.dir:-.}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
`;

/** The KRaft single-node config; ports are per start (advertised must be known, so not 0). */
export function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
offsets.topic.num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.cleaner.dedupe.buffer.size=4194304
`;
}

function run(cmd: string, args: string[], cwd: string): void {
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (res.error) throw new Error(`${cmd} could not run: ${res.error.message}`, { cause: res.error });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status}):\n${(res.stdout + res.stderr).slice(-2000)}`);
  }
}

function checkTools(): void {
  for (const [tool, pkg] of [['java', 'openjdk-17-jre-headless'], ['mvn', 'maven']] as const) {
    const res = spawnSync(tool, ['-version'], { encoding: 'utf8' });
    if (res.error) {
      throw new Error(`Kafka for tests needs ${tool} on PATH (Debian: apt-get install -y ${pkg}); ` +
        'or set RIVULET_TEST_KAFKA_BROKERS to a broker you run.');
    }
  }
}

function listJars(dir: string): string {
  return readdirSync(dir).filter((f) => f.endsWith('.jar')).sort().map((f) => join(dir, f)).join(':');
}

async function withLock<T>(lockDir: string, work: () => T): Promise<T> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A holder that died leaves the lock behind: resolving takes ~10 s cold, so 5 minutes is stale.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 300_000) rmSync(lockDir, { recursive: true, force: true });
      } catch { /* gone meanwhile */ }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the Kafka resolve lock ${lockDir}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Resolves jars and the data-dir template once per machine; later calls return at once. */
export async function resolveKafka(): Promise<KafkaInstall> {
  const root = kafkaCacheRoot();
  const jars = join(root, 'jars');
  const template = join(root, 'data-template');
  const install: KafkaInstall = {
    root,
    get classpath() { return listJars(jars); },
    templateDataDir: template,
    log4jConfig: join(root, 'log4j2.properties'),
    cdsArchive: join(root, 'kafka.jsa'),
  };
  if (existsSync(join(template, 'meta.properties')) && existsSync(install.log4jConfig)) return install;
  mkdirSync(root, { recursive: true });
  await withLock(join(root, '.lock'), () => {
    if (existsSync(join(template, 'meta.properties'))) return;
    checkTools();
    writeFileSync(install.log4jConfig, LOG4J);
    if (!existsSync(jars)) {
      const work = join(root, 'resolve.tmp');
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work);
      writeFileSync(join(work, 'pom.xml'), POM);
      run('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DoutputDirectory=jars'], work);
      renameSync(join(work, 'jars'), jars);
      rmSync(work, { recursive: true, force: true });
    }
    const fmt = join(root, 'format.tmp');
    rmSync(fmt, { recursive: true, force: true });
    mkdirSync(join(fmt, 'data'), { recursive: true });
    writeFileSync(join(fmt, 'server.properties'), serverProperties(19092, 19093, join(fmt, 'data')));
    const java = ['-Dlog4j2.configurationFile=' + install.log4jConfig, '-cp', listJars(jars), 'kafka.tools.StorageTool'];
    const uuid = spawnSync('java', [...java, 'random-uuid'], { encoding: 'utf8' });
    const clusterId = uuid.stdout.trim().split('\n').pop() ?? '';
    if (uuid.status !== 0 || !clusterId) throw new Error(`kafka StorageTool random-uuid failed: ${uuid.stderr}`);
    run('java', [...java, 'format', '-t', clusterId, '-c', join(fmt, 'server.properties')], fmt);
    rmSync(template, { recursive: true, force: true });
    cpSync(join(fmt, 'data'), join(root, 'data-template.tmp'), { recursive: true });
    renameSync(join(root, 'data-template.tmp'), template);
    rmSync(fmt, { recursive: true, force: true });
  });
  return install;
}
