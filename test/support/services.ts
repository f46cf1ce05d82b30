import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

// Private PostgreSQL and Redis servers for fault tests, which stop, freeze (SIGSTOP) and restart
// them: never the shared services other test files use.

/** Whether something accepts TCP connections on the port (and answers nothing in particular). */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/** The process and its children (PostgreSQL's backends each start a session of their own, so no process group holds them). */
function processTree(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, …
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // ended meanwhile
      }
    })
    .map(Number);
  return [pid, ...children];
}

/** A server process; signals reach it and its children (PostgreSQL's postmaster and every backend it forked). */
abstract class PrivateServer {
  protected process: ChildProcess | undefined;
  private output = '';

  constructor(readonly port: number) {}

  protected abstract command(): { file: string; args: string[]; uid?: number; gid?: number };
  protected abstract ready(): Promise<boolean>;

  async start(): Promise<void> {
    const { file, args, uid, gid } = this.command();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], uid, gid });
    this.output = '';
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.process = child;
    try {
      await waitUntil(`${path.basename(file)} on port ${this.port} is ready`, async () => {
        if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}: ${this.output}`);
        return this.ready();
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.output}`);
    }
  }

  /** Ends the server (it refuses connections from then on) and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.signal('SIGCONT'); // a frozen server cannot act on the signal
    this.signal(signal);
    await exited;
    await waitUntil(`port ${this.port} is closed`, async () => !(await accepting(this.port)));
  }

  /** Freezes every process of the server: connections stay open, nothing answers. */
  freeze(): void {
    this.signal('SIGSTOP'); // the parent first, so it forks no new process meanwhile
  }

  thaw(): void {
    this.signal('SIGCONT');
  }

  private signal(signal: NodeJS.Signals): void {
    for (const pid of processTree(this.process!.pid!)) {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }
}

export class PrivateRedis extends PrivateServer {
  readonly url = `redis://127.0.0.1:${this.port}`;

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  protected command() {
    return {
      file: 'redis-server',
      args: ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    };
  }

  protected ready(): Promise<boolean> {
    return accepting(this.port);
  }
}

/**
 * A PostgreSQL cluster of its own in a temporary folder. PostgreSQL refuses to run as root: when
 * the tests do, the cluster belongs to the `postgres` OS user. Missing binaries fail the suite.
 */
export class PrivatePostgres extends PrivateServer {
  readonly url = `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  private readonly bin = postgresBinaries();
  private readonly owner = process.getuid?.() === 0 ? osUser('postgres') : undefined;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'nilo-faults-pg-'));

  static async start(): Promise<PrivatePostgres> {
    const server = new PrivatePostgres(await freePort());
    server.init();
    await server.start();
    return server;
  }

  private init(): void {
    if (this.owner) chownSync(this.dir, this.owner.uid, this.owner.gid);
    execFileSync(
      path.join(this.bin, 'initdb'),
      ['-D', this.data, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions'],
      {
        ...this.owner,
        stdio: 'pipe',
      },
    );
  }

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  protected command() {
    const settings = [
      'listen_addresses=127.0.0.1',
      `unix_socket_directories=${this.dir}`,
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
    ];
    return {
      file: path.join(this.bin, 'postgres'),
      args: ['-D', this.data, '-p', String(this.port), ...settings.flatMap((s) => ['-c', s])],
      ...this.owner,
    };
  }

  protected async ready(): Promise<boolean> {
    try {
      execFileSync(path.join(this.bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(this.port)], {
        stdio: 'ignore',
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the server (fast shutdown: sessions are ended) and deletes its folder. */
  async remove(): Promise<void> {
    await this.stop('SIGINT');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The newest installed PostgreSQL's binaries (Debian's layout, then PATH's initdb's folder). */
function postgresBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0]) return path.join(root, versions[0], 'bin');
  try {
    return path.dirname(execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      'PostgreSQL server binaries (initdb, postgres) are not installed: the fault suite needs them (apt-get install postgresql)',
    );
  }
}

function osUser(name: string): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim()));
  return { uid: uid!, gid: gid! };
}
