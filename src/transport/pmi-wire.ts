// PMI-1 simple wire protocol: pure parsing and formatting of its lines (reference §3.2, RFC 13).
import { FluxError, EINVAL, EPROTO } from '../core/errors.js';

/** PMI return codes that travel as `rc=` */
export const PMI_FAIL = -1;
export const PMI_ERR_INVALID_KEY = 4;
export const PMI_ERR_INVALID_KEY_LENGTH = 5;
export const PMI_ERR_INVALID_VAL_LENGTH = 7;
export const PMI_ERR_INVALID_LENGTH = 8;

/**
 * Longest line accepted, newline excluded. Far above any legal line (vallen_max 1024 plus a few keys): its only
 * job is to stop a peer that never sends a newline from growing our buffer without bound.
 */
export const PMI_MAX_LINE = 16384;

/** Lines an `mcmd=` block may hold before `endcmd`; bounded for the same reason as PMI_MAX_LINE. */
const PMI_MAX_BLOCK_LINES = 1024;

/**
 * Keys whose value is the rest of the line, so it may hold spaces and `=`. `value` is the spec's rule;
 * `error_msg` (abort) is free text too and is always sent last.
 */
const REST_OF_LINE = new Set(['value', 'error_msg']);

/** MPICH hydra 4.1.x/4.2.0 append this after the value in get responses. */
const HYDRA_FOUND_SUFFIX = / found=(TRUE|FALSE)$/;

export interface PmiCommand {
  readonly kind: 'cmd';
  readonly cmd: string;
  /** every key of the line, `cmd` included; values verbatim */
  readonly fields: ReadonlyMap<string, string>;
  /** the line as received, for traces and error messages */
  readonly line: string;
}

/** An `mcmd=NAME` block; its lines (up to `endcmd`) are kept raw: no one acts on them. */
export interface PmiMultiCommand {
  readonly kind: 'mcmd';
  readonly mcmd: string;
  readonly lines: readonly string[];
}

export type PmiMessage = PmiCommand | PmiMultiCommand;

function protoError(line: string, why: string): FluxError {
  const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
  return new FluxError(EPROTO, `PMI protocol error: ${why}: ${JSON.stringify(shown)}`);
}

/**
 * Parse key=value tuples into a map, tolerantly: any key order, runs of spaces, unknown keys kept.
 * A bare word (no `=`) continues the previous value, because servers send free text such as
 * `msg=command not implemented` unquoted. Throws FluxError(EPROTO) on what cannot be read.
 */
function parseTuples(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  let lastKey: string | undefined;
  let pos = 0;
  while (pos < line.length) {
    if (line[pos] === ' ') {
      pos++;
      continue;
    }
    const sp = line.indexOf(' ', pos);
    const end = sp === -1 ? line.length : sp;
    const token = line.slice(pos, end);
    const eq = token.indexOf('=');
    if (eq === -1) {
      if (lastKey === undefined) throw protoError(line, 'expected key=value');
      fields.set(lastKey, `${fields.get(lastKey)} ${token}`);
      pos = end;
      continue;
    }
    if (eq === 0) throw protoError(line, 'empty key');
    const key = token.slice(0, eq);
    if (fields.has(key)) throw protoError(line, `duplicate key ${key}`);
    if (REST_OF_LINE.has(key)) {
      fields.set(key, line.slice(pos + eq + 1));
      break;
    }
    fields.set(key, token.slice(eq + 1));
    lastKey = key;
    pos = end;
  }
  return fields;
}

/** Parse one line (without its newline) that must carry a non-empty `cmd=`. */
export function parseLine(line: string): PmiCommand {
  if (line.includes('\0')) throw protoError(line, 'NUL byte');
  const fields = parseTuples(line);
  const cmd = fields.get('cmd');
  if (cmd === undefined || cmd.length === 0) throw protoError(line, 'no cmd');
  const value = fields.get('value');
  const found = cmd === 'get_result' && value !== undefined ? HYDRA_FOUND_SUFFIX.exec(value) : null;
  if (value !== undefined && found !== null) {
    fields.set('value', value.slice(0, found.index));
    fields.set('found', found[1]);
  }
  return { kind: 'cmd', cmd, fields, line };
}

/** A non-rest-of-line value must read back as itself: single-space separated words free of `=`. */
const PLAIN_VALUE = /^([^\s=]+( [^\s=]+)*)?$/;
const WORD = /^[^\s=]+$/;

/**
 * Format one line, `cmd=` first, fields in insertion order, newline included. Refuses (EINVAL) anything that
 * would not parse back to the same fields: a rest-of-line key that is not last, newlines, bad keys.
 */
export function formatLine(cmd: string, fields: Readonly<Record<string, string | number>> = {}): string {
  if (!WORD.test(cmd)) throw new FluxError(EINVAL, `PMI: invalid cmd ${JSON.stringify(cmd)}`);
  let line = `cmd=${cmd}`;
  const keys = Object.keys(fields);
  keys.forEach((key, i) => {
    const value = String(fields[key]);
    if (!WORD.test(key) || key === 'cmd') throw new FluxError(EINVAL, `PMI: invalid key ${JSON.stringify(key)}`);
    if (/[\n\0]/.test(value)) throw new FluxError(EINVAL, `PMI: ${key} contains a newline or NUL`);
    if (REST_OF_LINE.has(key)) {
      if (i !== keys.length - 1) throw new FluxError(EINVAL, `PMI: ${key}= must be the last field`);
    } else if (!PLAIN_VALUE.test(value)) {
      throw new FluxError(EINVAL, `PMI: ${key}=${JSON.stringify(value)} cannot be sent unambiguously`);
    }
    line += ` ${key}=${value}`;
  });
  return `${line}\n`;
}

/**
 * Splits a byte stream into PMI messages. Splitting happens on bytes, before decoding, so a UTF-8 character cut
 * across two chunks is reassembled intact. After a throw the stream is unusable: the protocol says to close.
 */
export class PmiLineDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private block: { mcmd: string; lines: string[] } | undefined;

  /** Feed bytes; returns the messages they complete, in order. Throws FluxError(EPROTO). */
  push(chunk: Buffer | string): PmiMessage[] {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: PmiMessage[] = [];
    let start = 0;
    for (let nl = this.buf.indexOf(0x0a, start); nl !== -1; nl = this.buf.indexOf(0x0a, start)) {
      const line = this.buf.toString('utf8', start, nl);
      if (nl - start > PMI_MAX_LINE) throw protoError(line, 'line too long');
      start = nl + 1;
      const msg = this.take(line);
      if (msg !== undefined) out.push(msg);
    }
    this.buf = this.buf.subarray(start);
    if (this.buf.length > PMI_MAX_LINE) throw protoError(this.buf.toString('utf8', 0, 80), 'line too long');
    return out;
  }

  /** True while part of a line or an unfinished `mcmd` block is buffered. */
  get pending(): boolean {
    return this.buf.length > 0 || this.block !== undefined;
  }

  private take(line: string): PmiMessage | undefined {
    if (this.block !== undefined) {
      if (line === 'endcmd') {
        const { mcmd, lines } = this.block;
        this.block = undefined;
        return { kind: 'mcmd', mcmd, lines };
      }
      if (this.block.lines.length >= PMI_MAX_BLOCK_LINES) throw protoError(line, `mcmd=${this.block.mcmd} too long`);
      this.block.lines.push(line);
      return undefined;
    }
    if (line.startsWith('mcmd=')) {
      const mcmd = line.slice(5).trim();
      if (!WORD.test(mcmd)) throw protoError(line, 'bad mcmd');
      this.block = { mcmd, lines: [] };
      return undefined;
    }
    return parseLine(line);
  }
}
