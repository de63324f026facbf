// The part of the lz4 package this project uses: raw LZ4 blocks (what flux-core's content-sqlite stores).
declare module 'lz4' {
  export function encodeBound(size: number): number;
  /** compresses `input` into `output`; returns the compressed size (0 when incompressible) */
  export function encodeBlock(input: Buffer, output: Buffer): number;
  /** returns the decompressed size, negative on malformed input */
  export function decodeBlock(input: Buffer, output: Buffer): number;
  const lz4: { encodeBound: typeof encodeBound; encodeBlock: typeof encodeBlock; decodeBlock: typeof decodeBlock };
  export default lz4;
}
