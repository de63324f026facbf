// An archive file's bytes, as `flux restore` and a broker started with -S content.restore=PATH read them: a
// file or stdin ("-"), gunzipped when it starts with gzip's magic number, whatever its name.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** an archive's bytes: "-" is stdin; gzip is recognized by its magic number, whatever the name */
export async function* archiveSource(path: string): AsyncGenerator<Buffer> {
  const raw: AsyncIterable<Buffer> = path === '-' ? process.stdin : createReadStream(path);
  const it = raw[Symbol.asyncIterator]();
  let first = await it.next();
  // the magic number is two bytes: a source that hands out single bytes must not hide it
  while (!first.done && first.value.length < 2) {
    const more = await it.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* all();
    return;
  }
  const gunzip = createGunzip();
  const fed = pipeline(Readable.from(all()), gunzip);
  fed.catch(() => {});
  yield* gunzip as AsyncIterable<Buffer>;
  await fed;
}
