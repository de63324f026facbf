// The payloads of the KVS's requests, checked before a handler sees them.
const NAMESPACE = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s/]+$' };
const OPS = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      key: { type: 'string' },
      flags: { type: 'integer', minimum: 0 },
      dirent: { anyOf: [{ type: 'object' }, { type: 'null' }] },
    },
    required: ['key', 'flags', 'dirent'],
  },
};
export const COMMIT_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 }, ops: OPS,
    jobs: { type: 'array', items: { type: 'object' } },
  },
  required: ['namespace', 'flags', 'ops'],
};
export const RELAY_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 }, ops: OPS, name: { type: 'string' },
    userid: { type: 'integer', minimum: 0 }, rolemask: { type: 'integer', minimum: 0 },
  },
  required: ['namespace', 'flags', 'ops', 'name', 'userid', 'rolemask'],
};
export const LOOKUP_SCHEMA = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    flags: { type: 'integer', minimum: 0 },
    namespace: NAMESPACE,
    rootdir: { type: 'object' },
    rootseq: { type: 'integer', minimum: 0 },
  },
  required: ['key', 'flags'],
};
export const NAMESPACE_SCHEMA = {
  type: 'object', properties: { namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 } }, required: ['namespace'],
};
export const VERSION_SCHEMA = {
  type: 'object',
  properties: { namespace: NAMESPACE, rootseq: { type: 'integer', minimum: 0 } },
  required: ['namespace', 'rootseq'],
};
export const CREATE_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE,
    rootref: { type: 'string' },
    // a C int on the wire: -1 (FLUX_USERID_UNKNOWN) means the instance owner
    owner: { type: 'integer', minimum: -0x80000000, maximum: 0xffffffff },
    flags: { type: 'integer', minimum: 0 },
  },
  required: ['namespace', 'rootref', 'owner', 'flags'],
};
