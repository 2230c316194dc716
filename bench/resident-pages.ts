/**
 * The memory of a group of processes counted once: the union of their resident pages. Summed RSS
 * counts a page once per process mapping it (two node processes both hold the node binary's pages),
 * and PSS splits shared pages with every process on the host that maps them (other node processes
 * included), so neither says what the group costs the host.
 */
import fs from 'node:fs';

export interface ResidentPages {
  /** Resident pages of all the processes, each physical page counted once. */
  unionBytes: number;
  /** Of unionBytes: pages backed by a file (the node binary, libraries), which the kernel can drop. */
  fileBytes: number;
  /** Of unionBytes: pages resident in more than one of the processes. */
  sharedBytes: number;
  /**
   * 'pagemap': exact, from the physical page numbers in /proc/<pid>/pagemap (needs CAP_SYS_ADMIN,
   * else the kernel reports them as 0). 'smaps': an estimate from /proc/<pid>/smaps, private pages
   * summed and each file's shared pages counted once, as the largest count of any of the processes.
   */
  method: 'pagemap' | 'smaps';
}

interface Mapping {
  start: number;
  end: number;
  path: string;
  rssKb: number;
  privateKb: number;
  sharedKb: number;
  anonymousKb: number;
}

const PAGE = 4096;
const PRESENT = 1n << 63n;
const FILE_OR_SHARED_ANON = 1n << 61n;
const PFN_MASK = (1n << 55n) - 1n;

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      current = {
        start: Number.parseInt(head[1] as string, 16),
        end: Number.parseInt(head[2] as string, 16),
        path: head[3] ?? '',
        rssKb: 0,
        privateKb: 0,
        sharedKb: 0,
        anonymousKb: 0,
      };
      out.push(current);
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (field === null || current === undefined) continue;
    const kb = Number(field[2]);
    if (field[1] === 'Rss') current.rssKb = kb;
    else if (field[1] === 'Private_Clean' || field[1] === 'Private_Dirty') current.privateKb += kb;
    else if (field[1] === 'Shared_Clean' || field[1] === 'Shared_Dirty') current.sharedKb += kb;
    else if (field[1] === 'Anonymous') current.anonymousKb += kb;
  }
  return out;
}

/** Physical page number -> [file-backed, how many of the processes map it]; null if PFNs are hidden. */
function physicalPages(pids: number[]): Map<bigint, { file: boolean; holders: number }> | null {
  const pages = new Map<bigint, { file: boolean; holders: number }>();
  let hidden = false;
  for (const pid of pids) {
    const seen = new Set<bigint>();
    const fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    try {
      for (const m of mappings(pid)) {
        if (m.rssKb === 0) continue;
        const count = (m.end - m.start) / PAGE;
        const buf = Buffer.alloc(count * 8);
        const read = fs.readSync(fd, buf, 0, buf.length, (m.start / PAGE) * 8);
        for (let i = 0; i + 8 <= read; i += 8) {
          const entry = buf.readBigUInt64LE(i);
          if ((entry & PRESENT) === 0n) continue;
          const pfn = entry & PFN_MASK;
          if (pfn === 0n) {
            hidden = true;
            continue;
          }
          if (seen.has(pfn)) continue;
          seen.add(pfn);
          const page = pages.get(pfn);
          if (page === undefined) pages.set(pfn, { file: (entry & FILE_OR_SHARED_ANON) !== 0n, holders: 1 });
          else page.holders++;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return hidden ? null : pages;
}

function estimateFromSmaps(pids: number[]): ResidentPages {
  let privateKb = 0;
  let fileKb = 0;
  let sharedAnonKb = 0;
  // A file's shared pages, per process: the union is at least the largest of them.
  const sharedByFile = new Map<string, number[]>();
  for (const [index, pid] of pids.entries()) {
    for (const m of mappings(pid)) {
      privateKb += m.privateKb;
      const isFile = m.path.startsWith('/') && m.anonymousKb === 0;
      if (isFile) fileKb += m.privateKb;
      if (m.sharedKb === 0) continue;
      if (!isFile) {
        sharedAnonKb += m.sharedKb;
        continue;
      }
      const perProcess = sharedByFile.get(m.path) ?? pids.map(() => 0);
      perProcess[index] = (perProcess[index] as number) + m.sharedKb;
      sharedByFile.set(m.path, perProcess);
    }
  }
  let sharedFileKb = 0;
  let inSeveralKb = 0;
  for (const perProcess of sharedByFile.values()) {
    const most = Math.max(...perProcess);
    sharedFileKb += most;
    // Pages of a file that more than one of the processes holds: at least what the sums overlap.
    inSeveralKb += Math.max(0, perProcess.reduce((a, b) => a + b, 0) - most);
  }
  return {
    unionBytes: (privateKb + sharedFileKb + sharedAnonKb) * 1024,
    fileBytes: (fileKb + sharedFileKb) * 1024,
    sharedBytes: Math.min(inSeveralKb, sharedFileKb) * 1024,
    method: 'smaps',
  };
}

/** The union of the resident pages of `pids`: exact from pagemap where readable, else estimated. */
export function residentPages(pids: number[]): ResidentPages {
  const pages = physicalPages(pids);
  if (pages === null) return estimateFromSmaps(pids);
  let file = 0;
  let shared = 0;
  for (const page of pages.values()) {
    if (page.file) file++;
    if (page.holders > 1) shared++;
  }
  return {
    unionBytes: pages.size * PAGE,
    fileBytes: file * PAGE,
    sharedBytes: shared * PAGE,
    method: 'pagemap',
  };
}
