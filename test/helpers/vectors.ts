// Loads the byte-exact captures of flux-core 0.88 clients talking to its broker (test/fixtures/vectors).
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const VECTOR_DIR = fileURLToPath(new URL('../fixtures/vectors', import.meta.url));

export interface VectorMessage {
  kind: 'message';
  scenario: string;
  conn: number;
  dir: 'c2s' | 's2c';
  index: number;
  type_code: number;
  flags_code: number;
  userid: number;
  rolemask: number;
  aux1: number;
  aux2: number;
  routes: string[];
  route_delimiter: boolean;
  topic: string | null;
  payload_hex: string | null;
  payload_text: string | null;
  frame_hdr_bytes: number[];
  raw_hex: string;
  case?: string;
  step?: number;
}

export interface VectorFile {
  scenario: string;
  header: Record<string, unknown>;
  records: Array<Record<string, unknown>>;
  messages: VectorMessage[];
}

export function loadVectors(name: string): VectorFile {
  const lines = readFileSync(join(VECTOR_DIR, `${name}.jsonl`), 'utf8').split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const records = lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
  const messages = records
    .filter((r) => r.kind === 'message')
    .map((r) => ({ ...r, scenario: name }) as unknown as VectorMessage);
  return { scenario: name, header, records, messages };
}

export function allVectorNames(): string[] {
  return readdirSync(VECTOR_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => f.replace(/\.jsonl$/, ''))
    .sort();
}
