// hwloc topology XML (what `lstopo --of xml` prints; hwloc 2.x, and 1.x tolerated): a summary of one node's
// topology, and several nodes' topologies joined into one document as flux-core's `flux hwloc topology` printed
// them. Only tags and their attributes matter here, so a small tokenizer does instead of an XML library. Pure.
import { FluxError, EINVAL } from '../errors.js';
import { compile } from '../validate.js';

export interface HwlocSummary {
  /** objects per type, hwloc 2 names (a 1.x Socket counts as Package, a depth-2 Cache as L2Cache), plus GPU */
  counts: Record<string, number>;
  /** the HostName info of the (first) Machine */
  hostname?: string;
  /** the cores by logical index, 0..n-1: how flux-core numbers a node's cores in R */
  cores: number[];
  /** the PUs' OS indexes: the CPU numbers the kernel uses */
  pus: number[];
  /** CUDA and OpenCL devices numbered 0..n-1 in document order, the devices flux-core counts as GPUs */
  gpus: number[];
}

/** one rank's discovery, as resource.topo-get answers it */
export interface RankTopology {
  rank: number;
  /** the broker's hostname */
  hostname: string;
  summary: HwlocSummary;
  /** only when asked for */
  xml?: string;
}

const validateTopology = compile({
  type: 'object',
  properties: {
    rank: { type: 'integer', minimum: 0 },
    hostname: { type: 'string' },
    summary: {
      type: 'object',
      properties: {
        counts: { type: 'object', additionalProperties: { type: 'integer' } },
        hostname: { type: 'string' },
        cores: { type: 'array', items: { type: 'integer', minimum: 0 } },
        pus: { type: 'array', items: { type: 'integer', minimum: 0 } },
        gpus: { type: 'array', items: { type: 'integer', minimum: 0 } },
      },
      required: ['counts', 'cores', 'pus', 'gpus'],
    },
    xml: { type: 'string' },
  },
  required: ['rank', 'hostname', 'summary'],
});

/** a resource.topo-get answer, checked (EPROTO when it is not one) */
export function toRankTopology(value: unknown): RankTopology {
  validateTopology(value);
  return value as RankTopology;
}

interface Tag {
  name: string;
  attrs: Map<string, string>;
  close: boolean;
  empty: boolean;
  start: number;
  end: number;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, e: string) => {
    if (!e.startsWith('#')) return ENTITIES[e] ?? whole;
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

const TOKEN = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[?!][^>]*>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** the element tags of a document in order (declarations, comments and CDATA skipped); EINVAL on a stray '<' */
function* tags(xml: string): Generator<Tag> {
  const token = new RegExp(TOKEN);
  let at = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    if (xml.slice(at, m.index).includes('<')) throw new FluxError(EINVAL, `hwloc XML: malformed tag near offset ${at}`);
    at = m.index + m[0].length;
    if (m[2] === undefined) continue;
    const attrs = new Map<string, string>();
    for (const a of (m[3] ?? '').matchAll(ATTR)) attrs.set(a[1]!, unescape(a[2] ?? a[3] ?? ''));
    yield { name: m[2], attrs, close: m[1] === '/', empty: m[4] === '/', start: m.index, end: at };
  }
  if (xml.slice(at).includes('<')) throw new FluxError(EINVAL, `hwloc XML: malformed tag near offset ${at}`);
}

/** hwloc 1.x type names as hwloc 2 calls them */
function typeName(attrs: Map<string, string>): string {
  const type = attrs.get('type') ?? '';
  if (type === 'Socket') return 'Package';
  if (type === 'Cache') {
    const depth = attrs.get('depth');
    if (depth === undefined) return 'Cache';
    return `L${depth}${attrs.get('cache_type') === '2' ? 'i' : ''}Cache`;
  }
  return type;
}

const GPU_BACKENDS = new Set(['CUDA', 'OpenCL']);

/** an element being read: an object's normalized type and the info its children give it */
interface Open {
  name: string;
  type?: string;
  info: Map<string, string>;
  attrs: Map<string, string>;
  start: number;
}

/**
 * Walks a topology document, checking that its elements nest, and calls `object` for every <object> once its
 * content (its info children) has been read; `top` gets the span of each object directly under <topology>.
 * Returns the document's format version (1 for hwloc 1.x, which has no version attribute).
 */
function walk(
  xml: string,
  object: (type: string, attrs: Map<string, string>, info: Map<string, string>) => void,
  top?: (start: number, end: number, attrs: Map<string, string>) => void,
): number {
  const stack: Open[] = [];
  let version: number | undefined;
  for (const t of tags(xml)) {
    if (version === undefined) {
      if (t.name !== 'topology' || t.close) throw new FluxError(EINVAL, 'hwloc XML: the document is not a <topology>');
      version = Number.parseInt(t.attrs.get('version') ?? '1', 10) || 1;
      if (t.empty) return version;
      stack.push({ name: t.name, info: new Map(), attrs: t.attrs, start: t.start });
      continue;
    }
    if (stack.length === 0) throw new FluxError(EINVAL, `hwloc XML: <${t.name}> after the end of <topology>`);
    if (t.close) {
      const open = stack.pop()!;
      if (open.name !== t.name) throw new FluxError(EINVAL, `hwloc XML: </${t.name}> closes <${open.name}>`);
      if (open.name === 'object') {
        object(open.type!, open.attrs, open.info);
        if (stack.length === 1) top?.(open.start, t.end, open.attrs);
      }
      continue;
    }
    if (t.name === 'info') {
      const owner = stack[stack.length - 1]!;
      const name = t.attrs.get('name');
      if (name !== undefined && !owner.info.has(name)) owner.info.set(name, t.attrs.get('value') ?? '');
    }
    const open: Open = { name: t.name, type: t.name === 'object' ? typeName(t.attrs) : undefined, info: new Map<string, string>(), attrs: t.attrs, start: t.start };
    if (!t.empty) {
      stack.push(open);
    } else if (t.name === 'object') {
      object(open.type!, open.attrs, open.info);
      if (stack.length === 1) top?.(t.start, t.end, open.attrs);
    }
  }
  if (version === undefined) throw new FluxError(EINVAL, 'hwloc XML: the document is empty');
  if (stack.length > 0) throw new FluxError(EINVAL, `hwloc XML: <${stack[stack.length - 1]!.name}> is not closed`);
  return version;
}

/** The summary of one node's topology XML; EINVAL when it is not a well-formed hwloc topology. */
export function parseHwlocXml(xml: string): HwlocSummary {
  const counts: Record<string, number> = {};
  const pus: number[] = [];
  let cores = 0;
  let gpus = 0;
  let hostname: string | undefined;
  walk(xml, (type, attrs, info) => {
    counts[type] = (counts[type] ?? 0) + 1;
    if (type === 'Core') cores++;
    else if (type === 'PU') pus.push(Number(attrs.get('os_index') ?? pus.length));
    else if (type === 'Machine' && hostname === undefined) hostname = info.get('HostName');
    else if (type === 'OSDev' && (GPU_BACKENDS.has(info.get('Backend') ?? '') || GPU_BACKENDS.has(attrs.get('subtype') ?? ''))) gpus++;
  });
  counts.GPU = gpus;
  const summary: HwlocSummary = {
    counts,
    cores: Array.from({ length: cores }, (_, i) => i),
    pus,
    gpus: Array.from({ length: gpus }, (_, i) => i),
  };
  if (hostname !== undefined) summary.hostname = hostname;
  return summary;
}

// ---- several nodes in one document ----------------------------------------------------------------------

/** the root's sets are the union of its children's, which hwloc checks when it reads the document back */
const BITMAP_ATTRS = ['cpuset', 'complete_cpuset', 'online_cpuset', 'allowed_cpuset', 'nodeset', 'complete_nodeset', 'allowed_nodeset'];

interface Bitmap {
  /** 32-bit words, least significant first */
  words: number[];
  /** every bit above `words` is set ("0xf...f," leads the text) */
  infinite: boolean;
}

function parseBitmap(text: string): Bitmap {
  const parts = text.split(',');
  const infinite = parts[0] === '0xf...f';
  const words = (infinite ? parts.slice(1) : parts).reverse().map((p) => {
    if (!/^0x[0-9a-fA-F]{1,8}$/.test(p)) throw new FluxError(EINVAL, `hwloc XML: bad bitmap "${text}"`);
    return parseInt(p.slice(2), 16);
  });
  return { words, infinite };
}

function formatBitmap(b: Bitmap): string {
  const words = [...b.words];
  while (words.length > 1 && words[words.length - 1] === 0) words.pop();
  const hex = words.reverse().map((w) => `0x${w.toString(16).padStart(8, '0')}`);
  if (b.infinite) return ['0xf...f', ...hex].join(',');
  return hex.length === 1 && b.words.every((w) => w === 0) ? '0x0' : hex.join(',');
}

function unionBitmaps(texts: string[]): string {
  const maps = texts.map(parseBitmap);
  const n = Math.max(1, ...maps.map((m) => m.words.length));
  const words = Array.from({ length: n }, (_, i) => maps.reduce((w, m) => (w | (m.words[i] ?? 0)) >>> 0, 0));
  return formatBitmap({ words, infinite: maps.some((m) => m.infinite) });
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * One document holding every node's topology, in the given (rank) order: each node's Machine under one root
 * object of type System, as hwloc 1.x's custom topologies, and so flux-core v0.11's `flux hwloc topology`,
 * built it. hwloc 2 has no System type and reads that root as its Machine. The documents' own format version
 * is kept (the first one's); EINVAL if one of them is not a topology.
 */
export function aggregateHwlocXml(xmls: readonly string[]): string {
  const children: string[] = [];
  const rootAttrs: Array<Map<string, string>> = [];
  let version: number | undefined;
  for (const xml of xmls) {
    const v = walk(xml, () => {}, (start, end, attrs) => {
      children.push(`    ${xml.slice(start, end).replace(/\n/g, '\n  ')}\n`);
      rootAttrs.push(attrs);
    });
    version ??= v;
  }
  let root = '<object type="System" os_index="0"';
  for (const name of BITMAP_ATTRS) {
    const sets = rootAttrs.map((a) => a.get(name)).filter((s): s is string => s !== undefined);
    if (sets.length > 0) root += ` ${name}="${escapeAttr(unionBitmaps(sets))}"`;
  }
  const v2 = (version ?? 2) >= 2;
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<!DOCTYPE topology SYSTEM "${v2 ? 'hwloc2.dtd' : 'hwloc.dtd'}">\n`
    + `<topology${v2 ? ' version="2.0"' : ''}>\n`
    + `  ${root}>\n${children.join('')}  </object>\n</topology>\n`;
}
