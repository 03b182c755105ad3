/**
 * Byte-level editing of real DICOM files, for the fuzz harness and the readers' tests: find a
 * top-level element by tag and replace its value (fixing its length field and the meta group
 * length) or just its length field. Knows Part 10 files with explicit or implicit little-endian
 * or explicit big-endian data sets, and skips undefined-length sequences; nothing else. Pure.
 */

export type Tag = readonly [group: number, element: number];

export interface ElementAt {
  readonly group: number;
  readonly element: number;
  /** Two letters for explicit VR, null for implicit. */
  readonly vr: string | null;
  /** Offset of the element's first byte (its tag). */
  readonly start: number;
  readonly lengthOffset: number;
  readonly lengthSize: 2 | 4;
  readonly valueOffset: number;
  /** The value's byte length; 0xffffffff for undefined (then `end` is past the delimiter). */
  readonly length: number;
  readonly end: number;
  readonly littleEndian: boolean;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);
const UNDEFINED = 0xffffffff;

function u16(b: Uint8Array, at: number, little: boolean): number {
  return little ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1];
}
function u32(b: Uint8Array, at: number, little: boolean): number {
  return little
    ? (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
    : ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Skips an undefined-length value (sequence or encapsulated pixel data) from `at`; returns its end. */
function skipUndefined(b: Uint8Array, at: number, little: boolean): number {
  let depth = 0;
  while (at + 8 <= b.length) {
    const g = u16(b, at, little);
    const e = u16(b, at + 2, little);
    const len = u32(b, at + 4, little);
    if (g === 0xfffe && e === 0xe0dd) {
      if (depth === 0) return at + 8;
      depth--;
      at += 8;
    } else if (g === 0xfffe && e === 0xe00d) {
      at += 8;
    } else if (g === 0xfffe && e === 0xe000) {
      at += 8;
      if (len !== UNDEFINED) at += len;
    } else {
      // An element inside an item; its VR decides the header size only in explicit files,
      // which nested data in our samples are not; treat undefined lengths as nested sequences.
      const vr = String.fromCharCode(b[at + 4], b[at + 5]);
      let valueAt: number;
      let vlen: number;
      if (/^[A-Z]{2}$/.test(vr)) {
        if (LONG_VRS.has(vr)) {
          vlen = u32(b, at + 8, little);
          valueAt = at + 12;
        } else {
          vlen = u16(b, at + 6, little);
          valueAt = at + 8;
        }
      } else {
        vlen = len;
        valueAt = at + 8;
      }
      if (vlen === UNDEFINED) {
        depth++;
        at = valueAt;
      } else {
        at = valueAt + vlen;
      }
    }
  }
  return b.length;
}

/** The top-level elements of a Part 10 file, in file order. Stops quietly at damage. */
export function listElements(b: Uint8Array): ElementAt[] {
  const out: ElementAt[] = [];
  const part10 = b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
  let at = part10 ? 132 : 0;
  let syntax = '1.2.840.10008.1.2';
  while (at + 8 <= b.length) {
    const inMeta = (b[at] | (b[at + 1] << 8)) === 0x0002;
    const explicit = inMeta || syntax !== '1.2.840.10008.1.2';
    const little = inMeta || syntax !== '1.2.840.10008.1.2.2';
    const group = u16(b, at, little);
    const element = u16(b, at + 2, little);
    let vr: string | null = null;
    let lengthOffset: number;
    let lengthSize: 2 | 4;
    if (explicit) {
      vr = String.fromCharCode(b[at + 4], b[at + 5]);
      if (LONG_VRS.has(vr)) {
        lengthOffset = at + 8;
        lengthSize = 4;
      } else {
        lengthOffset = at + 6;
        lengthSize = 2;
      }
    } else {
      lengthOffset = at + 4;
      lengthSize = 4;
    }
    if (lengthOffset + lengthSize > b.length) break;
    const length = lengthSize === 2 ? u16(b, lengthOffset, little) : u32(b, lengthOffset, little);
    const valueOffset = lengthOffset + lengthSize;
    const end = length === UNDEFINED ? skipUndefined(b, valueOffset, little) : valueOffset + length;
    if (end > b.length) break;
    out.push({
      group,
      element,
      vr,
      start: at,
      lengthOffset,
      lengthSize,
      valueOffset,
      length,
      end,
      littleEndian: little,
    });
    if (group === 0x0002 && element === 0x0010) {
      syntax = String.fromCharCode(...b.subarray(valueOffset, end)).replace(/[\0 ]+$/, '');
    }
    at = end;
  }
  return out;
}

export function findElement(b: Uint8Array, [group, element]: Tag): ElementAt | undefined {
  return listElements(b).find((e) => e.group === group && e.element === element);
}

function writeLength(out: Uint8Array, e: ElementAt, at: number, length: number): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (e.lengthSize === 2) v.setUint16(at, length, e.littleEndian);
  else v.setUint32(at, length, e.littleEndian);
}

/**
 * A copy of `b` with the element's value replaced by `value` and its length field (and the
 * meta group length, for group 0002) updated. Undefined when the tag is absent or the value
 * does not fit a 2-byte length.
 */
export function setValue(b: Uint8Array, tag: Tag, value: Uint8Array): Uint8Array | undefined {
  const elements = listElements(b);
  const e = elements.find((x) => x.group === tag[0] && x.element === tag[1]);
  if (e === undefined || e.length === UNDEFINED) return undefined;
  if (e.lengthSize === 2 && value.length > 0xffff) return undefined;
  const out = new Uint8Array(b.length - e.length + value.length);
  out.set(b.subarray(0, e.valueOffset));
  out.set(value, e.valueOffset);
  out.set(b.subarray(e.end), e.valueOffset + value.length);
  writeLength(out, e, e.lengthOffset, value.length);
  if (tag[0] === 0x0002) {
    const groupLength = elements.find((x) => x.group === 0x0002 && x.element === 0x0000);
    if (groupLength !== undefined && groupLength.length === 4) {
      const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
      v.setUint32(groupLength.valueOffset, v.getUint32(groupLength.valueOffset, true) - e.length + value.length, true);
    }
  }
  return out;
}

/** Text value padded to even length (space; NUL for UIDs), as DICOM requires. */
export function setText(b: Uint8Array, tag: Tag, text: string, pad = ' '): Uint8Array | undefined {
  const s = text.length % 2 ? text + pad : text;
  return setValue(
    b,
    tag,
    Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff),
  );
}

/** A copy with an unsigned 16-bit value (US) written in place. */
export function setU16(b: Uint8Array, tag: Tag, n: number): Uint8Array | undefined {
  const e = findElement(b, tag);
  if (e === undefined || e.length < 2) return undefined;
  const out = new Uint8Array(b);
  new DataView(out.buffer).setUint16(e.valueOffset, n & 0xffff, e.littleEndian);
  return out;
}

/** A copy with only the element's length field changed (the value bytes stay put). */
export function setLength(b: Uint8Array, tag: Tag, length: number): Uint8Array | undefined {
  const e = findElement(b, tag);
  if (e === undefined) return undefined;
  const out = new Uint8Array(b);
  writeLength(out, e, e.lengthOffset, e.lengthSize === 2 ? length & 0xffff : length >>> 0);
  return out;
}

/** The element's value as text (trailing NUL/space padding removed). */
export function getText(b: Uint8Array, tag: Tag): string | undefined {
  const e = findElement(b, tag);
  if (e === undefined || e.length === UNDEFINED) return undefined;
  return String.fromCharCode(...b.subarray(e.valueOffset, Math.min(e.end, e.valueOffset + 1024))).replace(
    /[\0 ]+$/,
    '',
  );
}

export function getU16(b: Uint8Array, tag: Tag): number | undefined {
  const e = findElement(b, tag);
  if (e === undefined || e.length < 2) return undefined;
  return u16(b, e.valueOffset, e.littleEndian);
}
