// RFC 37 file archive, as a jobspec carries one in attributes.system.files: files a job needs that may not be
// where it runs (flux batch's script). Each entry is keyed by its path relative to the job's temporary
// directory, where the job shell writes it before the tasks start.
import { FluxError, EINVAL } from '../errors.js';

export interface FileEntry {
  /** S_IFREG | permission bits */
  mode: number;
  size: number;
  encoding: 'utf-8' | 'base64';
  data: string;
}

const S_IFREG = 0o100000;

export const fileArchiveSchema = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: {
      mode: { type: 'integer', minimum: 0 },
      size: { type: 'integer', minimum: 0 },
      encoding: { enum: ['utf-8', 'base64'] },
      data: { type: 'string' },
    },
    required: ['mode', 'encoding', 'data'],
  },
};

/** the entry of a regular file holding `content` with permission bits `perms` */
export function fileEntry(content: string, perms: number): FileEntry {
  return { mode: S_IFREG | (perms & 0o7777), size: Buffer.byteLength(content), encoding: 'utf-8', data: content };
}

/** a path an entry may have: relative, with no component that leaves the directory or is empty */
export function checkArchivePath(path: string): string {
  const parts = path.split('/');
  if (path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new FluxError(EINVAL, `${path}: a job's file must have a relative path inside its directory`);
  }
  return path;
}

/** an entry's bytes, and the permission bits to give them */
export function fileContent(e: FileEntry): { bytes: Buffer; perms: number } {
  if ((e.mode & 0o170000) !== S_IFREG) throw new FluxError(EINVAL, 'only regular files are carried in a jobspec');
  return { bytes: Buffer.from(e.data, e.encoding === 'base64' ? 'base64' : 'utf8'), perms: e.mode & 0o7777 };
}
