// RFC 19 FLUIDs (Flux Locally Unique IDs), the job ids: 64 bits = [40-bit ms timestamp | 14-bit generator id
// | 10-bit sequence], timestamp in the top bits so ids sort by submission time; plus their text encodings.
//
// Ids are held as JS numbers, which are exact only up to Number.MAX_SAFE_INTEGER (2^53 - 1): that leaves 29 of
// the 40 timestamp bits, about 6.2 days of the generator's clock. The timestamp counts milliseconds since the
// generator's epoch (the instance's first start, carried over restarts), not Unix time, so the limit is 6.2
// days of cumulative instance uptime. Past it, composing or decoding an id throws EOVERFLOW instead of
// silently rounding to a neighbouring id.
import { FluxError, EINVAL, EOVERFLOW } from '../errors.js';
import { MNEMONICODE_TEXT } from './mnemonicode-words.js';

const GEN_BITS = 14;
const SEQ_BITS = 10;
const TS_LIMIT = 2 ** 40;
const GEN_LIMIT = 2 ** GEN_BITS;
const SEQ_LIMIT = 2 ** SEQ_BITS;
const TS_UNIT = 2 ** (GEN_BITS + SEQ_BITS);
const U64_MAX = (1n << 64n) - 1n;

export type FluidEncoding = 'dec' | 'hex' | 'dothex' | 'kvs' | 'f58' | 'f58plain' | 'words' | 'emoji';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const F58_PREFIX = 'ƒ';
/** flux-core reads at most this many base58 digits after the prefix */
const F58_MAX_DIGITS = 12;

// RFC 19's 576 emoji, digit 0 first (interoperability data, like the base58 alphabet).
const EMOJI_TEXT =
  '😃😄😁😆😅😂😉😊😍😘😚😋😜😝😏😒😌😔😪😷😵😲😳😨😰😥😢😭😱😖😣😞😓😩😫😤😡😠👿💀💩👹👺👻👽👾😺😸' +
  '😹😻😼😽🙀😿😾🙈🙉🙊💌💘💝💖💗💓💞💕💟💔💛💚💙💜💋💯💢💥💫💦💨💬💤👋👌👈👉👆👇👍👎👊👏🙌👐🙏💅💪' +
  '👂👃👀👅👄👶👦👧👱👨👩👴👵🙍🙎🙅🙆💁🙋🙇👮💂👷👸👳👲👰👼🎅💆💇🚶🏃💃👯🏂🏄🏊🛀👫💏💑👪👤👣🐵🐒🐶' +
  '🐩🐺🐱🐯🐴🐎🐮🐷🐗🐽🐑🐫🐘🐭🐹🐰🐻🐨🐼🐾🐔🐣🐤🐥🐦🐧🐸🐢🐍🐲🐳🐬🐟🐠🐡🐙🐚🐌🐛🐜🐝🐞💐🌸💮🌹🌺🌻' +
  '🌼🌷🌱🌴🌵🌾🌿🍀🍁🍂🍃🍄🍇🍈🍉🍊🍌🍍🍎🍏🍑🍒🍓🍅🍆🌽🌰🍞🍖🍗🍔🍟🍕🍳🍲🍱🍘🍙🍚🍛🍜🍝🍠🍢🍣🍤🍥🍡' +
  '🍦🍧🍨🍩🍪🎂🍰🍫🍬🍭🍮🍯🍵🍶🍷🍸🍹🍺🍻🍴🔪🌏🗾🌋🗻🏠🏡🏢🏣🏥🏦🏨🏩🏪🏫🏬🏭🏯🏰💒🗼🗽🌁🌃🌄🌅🌆🌇' +
  '🌉🎠🎡🎢💈🎪🚃🚄🚅🚇🚉🚌🚑🚒🚓🚕🚗🚙🚚🚲🚏🚨🚥🚧🚤🚢💺🚀🕛🕐🕑🕒🕓🕔🕕🕖🕗🕘🕙🕚🌑🌓🌔🌕🌙🌛🌟🌠' +
  '🌌🌀🌈🌂🔥💧🌊🎃🎄🎆🎇🎈🎉🎊🎋🎍🎎🎏🎐🎑🎀🎁🎫🏆🏀🏈🎾🎳🎣🎽🎿🎯🔫🎱🔮🎮🎰🎲🃏🀄🎴🎭🎨👓👔👕👖👗' +
  '👘👙👚👛👜👝🎒👞👟👠👡👢👑👒🎩🎓💄💍💎🔊📢📣🔔🎼🎵🎶🎤🎧📻🎷🎸🎹🎺🎻📱📲📞📟📠🔋🔌💻💽💾💿📀🎥🎬' +
  '📺📷📹📼🔍🔎💡🔦🏮📔📕📖📗📘📙📚📓📒📃📜📄📰📑🔖💰💴💵💸💳💹📧📨📩📤📥📦📫📪📮📝💼📁📂📅📆📇📈📉' +
  '📊📋📌📍📎📏📐🔒🔓🔏🔐🔑🔨💣🔧🔩🔗📡💉💊🚪🚽🚬🗿🏧🚹🚺🚻🚼🚾🚫🚭🔞🔃🔙🔚🔛🔜🔝🔯🔼🔽🎦📶📳📴💱💲' +
  '🔱📛🔰🔟🔠🔡🔢🔣🔤🆎🆑🆒🆓🆔🆕🆖🆗🆘🆙🆚🈁🈶🈯🉐🈹🈚🈲🉑🈸🈴🈳🈺🈵🔴🔵🔶🔷🔸🔹🔺🔻💠🔘🔳🔲🏁🚩🎌';
/** a 64-bit value needs at most 7 base-576 digits */
const EMOJI_MAX_DIGITS = 7;

interface SymbolTables {
  words: readonly string[];
  wordValue: Map<string, number>;
  emoji: readonly string[];
  emojiValue: Map<string, number>;
}

let tables: SymbolTables | undefined;

/**
 * The word and emoji digits and their values, made on first use: every broker and job command loads this module,
 * and few ever spell an id in words or emoji (made at load, they cost each process ~1.5 ms, measured)
 */
function symbolTables(): SymbolTables {
  if (tables === undefined) {
    const words = MNEMONICODE_TEXT.split(/\s+/).filter((w) => w !== '');
    const emoji = Array.from(EMOJI_TEXT);
    tables = { words, wordValue: new Map(words.map((w, i) => [w, i])), emoji, emojiValue: new Map(emoji.map((e, i) => [e, i])) };
  }
  return tables;
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0) throw new FluxError(EINVAL, `invalid FLUID ${id}`);
  if (id > Number.MAX_SAFE_INTEGER) throw new FluxError(EOVERFLOW, `FLUID ${id} is above 2^53-1, the largest id held exactly`);
}

function checkField(name: string, value: number, limit: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= limit) {
    throw new FluxError(EINVAL, `FLUID ${name} ${value} is outside [0, ${limit})`);
  }
}

export function fluidCompose(timestamp: number, generator: number, sequence: number): number {
  checkField('timestamp', timestamp, TS_LIMIT);
  checkField('generator', generator, GEN_LIMIT);
  checkField('sequence', sequence, SEQ_LIMIT);
  const id = timestamp * TS_UNIT + generator * SEQ_LIMIT + sequence;
  if (id > Number.MAX_SAFE_INTEGER) {
    throw new FluxError(EOVERFLOW, `FLUID timestamp ${timestamp} ms is past the 2^53 id range (about 6.2 days of instance clock)`);
  }
  return id;
}

export function fluidTimestamp(id: number): number {
  checkId(id);
  return Math.floor(id / TS_UNIT);
}

export function fluidGenerator(id: number): number {
  checkId(id);
  return Math.floor(id / SEQ_LIMIT) % GEN_LIMIT;
}

export function fluidSequence(id: number): number {
  checkId(id);
  return id % SEQ_LIMIT;
}

/**
 * Issues strictly increasing ids. The clock is `startTimestamp` plus the milliseconds `now()` has moved since
 * construction; a restarted instance passes fluidTimestamp(largest id it ever issued) + 1 so ids keep growing
 * across restarts. When a millisecond's 1024 sequence numbers are used up, or the clock steps back, the
 * generator moves ahead of the clock rather than wait or reuse.
 */
export class FluidGenerator {
  readonly #generator: number;
  readonly #start: number;
  readonly #zero: number;
  readonly #now: () => number;
  #timestamp: number;
  #sequence = 0;

  constructor(genId: number, startTimestamp: number, now: () => number = Date.now) {
    checkField('generator', genId, GEN_LIMIT);
    checkField('timestamp', startTimestamp, TS_LIMIT);
    this.#generator = genId;
    this.#start = startTimestamp;
    this.#now = now;
    this.#zero = now();
    this.#timestamp = startTimestamp;
  }

  /** the generator's clock in ms since its epoch, never behind the timestamp of an id it issued */
  timestamp(): number {
    this.#advance();
    return this.#timestamp;
  }

  next(): number {
    this.#advance();
    if (this.#sequence === SEQ_LIMIT) {
      this.#timestamp += 1;
      this.#sequence = 0;
    }
    const id = fluidCompose(this.#timestamp, this.#generator, this.#sequence);
    this.#sequence += 1;
    return id;
  }

  #advance(): void {
    const clock = this.#start + Math.floor(this.#now() - this.#zero);
    if (clock > this.#timestamp) {
      this.#timestamp = clock;
      this.#sequence = 0;
    }
  }
}

function digits(id: number, alphabet: readonly string[] | string, base: number): string {
  let out = '';
  let n = id;
  do {
    out = alphabet[n % base]! + out;
    n = Math.floor(n / base);
  } while (n > 0);
  return out;
}

function words32(x: number): string {
  const w = symbolTables().words;
  const base = w.length;
  return [w[x % base], w[Math.floor(x / base) % base], w[Math.floor(x / base / base)]].join('-');
}

export function encodeFluid(id: number, type: FluidEncoding = 'f58'): string {
  checkId(id);
  switch (type) {
    case 'dec':
      return String(id);
    case 'hex':
      return `0x${id.toString(16)}`;
    case 'dothex':
      return id.toString(16).padStart(16, '0').match(/..../g)!.join('.');
    case 'kvs':
      return `job.${encodeFluid(id, 'dothex')}`;
    case 'f58':
      return F58_PREFIX + digits(id, B58, 58);
    case 'f58plain':
      return `f${digits(id, B58, 58)}`;
    case 'words':
      // mnemonicode encodes the id's little-endian bytes: the low 32 bits come first
      return `${words32(id % 2 ** 32)}--${words32(Math.floor(id / 2 ** 32))}`;
    case 'emoji': {
      const { emoji } = symbolTables();
      return digits(id, emoji, emoji.length);
    }
    default:
      throw new FluxError(EINVAL, `unknown FLUID encoding "${String(type)}"`);
  }
}

function positional(symbols: string[], value: (s: string) => number | undefined, base: bigint): bigint | undefined {
  let n = 0n;
  for (const s of symbols) {
    const d = value(s);
    if (d === undefined) return undefined;
    n = n * base + BigInt(d);
  }
  return n;
}

function decodeDothex(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{1,4}(\.[0-9a-fA-F]{1,4}){3}$/.test(s)) return undefined;
  return s.split('.').reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

function decodeWords(s: string): bigint | undefined {
  // as mnemonicode's own decoder: words are runs of letters, anything else separates them, case is ignored
  const { words, wordValue } = symbolTables();
  const idx = s.split(/[^A-Za-z]+/).filter((w) => w !== '').map((w) => wordValue.get(w.toLowerCase()));
  if (idx.length !== 6 || idx.some((i) => i === undefined)) return undefined;
  const base = words.length;
  const half = (i: number) => idx[i]! + idx[i + 1]! * base + idx[i + 2]! * base * base;
  const lo = half(0);
  const hi = half(3);
  // about 0.1% of word triples name no 32-bit value
  if (lo >= 2 ** 32 || hi >= 2 ** 32) return undefined;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function decodeF58(s: string): bigint | undefined {
  const body = s.slice(s.startsWith(F58_PREFIX) ? F58_PREFIX.length : 1);
  if (body.length === 0 || body.length > F58_MAX_DIGITS) return undefined;
  return positional([...body], (c) => (B58.includes(c) ? B58.indexOf(c) : undefined), 58n);
}

function decodeEmoji(s: string): bigint | undefined {
  const symbols = Array.from(s);
  if (symbols.length > EMOJI_MAX_DIGITS) return undefined;
  const { emoji, emojiValue } = symbolTables();
  return positional(symbols, (e) => emojiValue.get(e), BigInt(emoji.length));
}

/** RFC 19's detection order; leading and trailing whitespace are ignored */
function decodeAny(s: string): bigint | undefined {
  if (s.includes('.')) return decodeDothex(s);
  if (s.includes('-')) return decodeWords(s);
  if (s.startsWith(F58_PREFIX) || s.startsWith('f')) return decodeF58(s);
  // the UTF-8 bytes F0 9F start every code point in U+1F000..U+1FFFF, the block all RFC 19 emoji come from
  const first = s.codePointAt(0) ?? 0;
  if (first >= 0x1f000 && first <= 0x1ffff) return decodeEmoji(s);
  if (s.startsWith('0x')) return /^0x[0-9a-fA-F]+$/.test(s) ? BigInt(s) : undefined;
  return /^[0-9]+$/.test(s) ? BigInt(s) : undefined;
}

function toId(value: bigint | undefined, text: string): number {
  if (value === undefined || value > U64_MAX) throw new FluxError(EINVAL, `error parsing jobid: "${text}"`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FluxError(EOVERFLOW, `jobid "${text}" is above 2^53-1, the largest id held exactly`);
  }
  return Number(value);
}

export function decodeFluid(text: string): number {
  return toId(decodeAny(text.trim()), text);
}

/** a job id as flux-core's commands take one: any FLUID encoding, or the KVS form "job.<dothex>" */
export function parseJobId(text: string): number {
  const s = text.trim();
  return toId(decodeAny(s.startsWith('job.') ? s.slice(4) : s), text);
}
