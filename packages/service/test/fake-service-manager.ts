/**
 * The receiving end of sd_notify for tests: a unix datagram socket bound by python3 (Node cannot
 * bind one), answering barriers as systemd does, and reporting each message as a JSON line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const PYTHON = '/usr/bin/python3';

// systemd-notify's barrier (BARRIER=1) passes the write end of a pipe and waits until the manager
// closes it: closing every received descriptor is what lets the sender return.
const MANAGER_SCRIPT = `
import array, json, os, socket, struct, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": sys.argv[1]}), flush=True)
ancillary_space = socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * array.array("i").itemsize)
while True:
    data, ancillary, _flags, _addr = sock.recvmsg(65536, ancillary_space)
    received_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    pid, fds = None, 0
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            descriptors = array.array("i")
            descriptors.frombytes(payload[: len(payload) - len(payload) % descriptors.itemsize])
            for fd in descriptors:
                os.close(fd)
                fds += 1
    print(json.dumps({"text": data.decode("utf-8", "replace"), "pid": pid, "fds": fds, "receivedAtUsec": received_at}), flush=True)
`;

export interface NotifyMessage {
  /** VAR=value lines, e.g. { READY: '1', STATUS: 'running' }. */
  vars: Record<string, string>;
  text: string;
  /** The sender's pid from SCM_CREDENTIALS. */
  pid: number | null;
  /** CLOCK_MONOTONIC in µs when the manager read it. */
  receivedAtUsec: number;
}

/** Why the fake manager cannot run here, or null. */
export function fakeManagerUnavailable(): string | null {
  return existsSync(PYTHON) ? null : `${PYTHON} is missing: it binds the unix datagram socket Node cannot`;
}

export class FakeServiceManager {
  readonly socket: string;
  /** Every message but the barriers, in arrival order. */
  readonly messages: NotifyMessage[] = [];
  barriers = 0;
  readonly #child: ChildProcess;
  readonly #stderr: string[] = [];

  private constructor(socket: string, child: ChildProcess) {
    this.socket = socket;
    this.#child = child;
  }

  /** Binds <dir>/notify.sock and resolves once it listens. */
  static async start(dir: string): Promise<FakeServiceManager> {
    const socket = join(dir, 'notify.sock');
    const child = spawn(PYTHON, ['-c', MANAGER_SCRIPT, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    const manager = new FakeServiceManager(socket, child);
    createInterface({ input: child.stderr! }).on('line', (line) => manager.#stderr.push(line));
    const bound = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`fake service manager exited with ${code}: ${manager.#stderr.join('\n')}`)),
      );
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as { bound?: string } & Omit<NotifyMessage, 'vars'>;
        if (entry.bound !== undefined) return resolve();
        if (entry.text === 'BARRIER=1') manager.barriers++;
        else manager.messages.push({ ...entry, vars: parseVars(entry.text) });
      });
    });
    await bound;
    return manager;
  }

  /** Messages that set `name` (e.g. 'READY'), in order. */
  having(name: string): NotifyMessage[] {
    return this.messages.filter((message) => name in message.vars);
  }

  /** Polls until `check` returns a value; fails with every message seen so far. */
  async waitFor<T>(
    what: string,
    check: (messages: NotifyMessage[]) => T | undefined,
    timeoutMs = 15_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check(this.messages);
      if (value !== undefined) return value;
      if (Date.now() > deadline || this.#child.exitCode !== null) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms; messages seen: ${JSON.stringify(this.messages.map((m) => m.text))}; manager stderr: ${this.#stderr.join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    return exited;
  }
}

function parseVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return vars;
}
