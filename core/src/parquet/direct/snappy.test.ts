/**
 * The snappy decoder against a small reference encoder that writes every element the format has:
 * literals with 0 to 4 length bytes, and copies with 1-, 2- and 4-byte offsets, overlapping ones
 * (offsets 1 to 3, and shorter than their length) included.
 */
import { snappyDecompress } from './snappy.js';
import { DirectDecodeError } from './direct-error.js';
import { uvarint } from '../../../testing/varint.js';

type Element = { literal: Uint8Array } | { offset: number; length: number };

const le = (n: number, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => Math.floor(n / 2 ** (8 * i)) % 256);

/** The snappy block of `elements`, and what it expands to. */
function encode(elements: Element[]): { block: Uint8Array; plain: Uint8Array } {
  const plain: number[] = [];
  const out: number[] = [];
  for (const e of elements) {
    if ('literal' in e) {
      const n = e.literal.length - 1;
      if (n < 60) out.push(n << 2);
      else {
        const bytes = n < 256 ? 1 : n < 65536 ? 2 : n < 2 ** 24 ? 3 : 4;
        out.push((59 + bytes) << 2, ...le(n, bytes));
      }
      out.push(...e.literal);
      plain.push(...e.literal);
      continue;
    }
    const { offset, length } = e;
    if (length >= 4 && length <= 11 && offset < 2048) out.push(1 | ((length - 4) << 2) | ((offset >> 8) << 5), offset & 255);
    else if (offset < 65536) out.push(2 | ((length - 1) << 2), ...le(offset, 2));
    else out.push(3 | ((length - 1) << 2), ...le(offset, 4));
    for (let i = 0; i < length; i++) plain.push(plain[plain.length - offset]);
  }
  return { block: Uint8Array.from([...uvarint(plain.length), ...out]), plain: Uint8Array.from(plain) };
}

function bytes(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
}

describe('snappyDecompress', () => {
  const elements: Element[] = [
    { literal: bytes(1, 1) }, { offset: 1, length: 9 }, // a run of one byte
    { literal: bytes(2, 2) }, { offset: 2, length: 37 }, { literal: bytes(3, 3) }, { offset: 3, length: 64 },
    { literal: bytes(59, 4) }, { literal: bytes(60, 5) }, { literal: bytes(61, 6) }, { literal: bytes(300, 7) },
    { offset: 4, length: 11 }, { offset: 5, length: 60 }, { offset: 7, length: 4 }, { offset: 100, length: 64 },
    { offset: 300, length: 13 }, { literal: bytes(70_000, 8) }, { offset: 2000, length: 8 }, // a 3-byte literal length
    { offset: 65_000, length: 64 }, { offset: 70_100, length: 40 }, { offset: 69_999, length: 5 }, // 4-byte offsets
    { literal: bytes(17, 9) }, { offset: 16, length: 17 },
  ];

  it('expands every kind of element, into a fresh buffer or into one it is given', () => {
    const { block, plain } = encode(elements);
    expect(Buffer.from(snappyDecompress(block, plain.length)).equals(Buffer.from(plain))).toBe(true);
    const into = new Uint8Array(plain.length + 100).fill(0xee);
    const got = snappyDecompress(block, plain.length, into);
    expect(got.buffer).toBe(into.buffer);
    expect(Buffer.from(got).equals(Buffer.from(plain))).toBe(true);
    expect(into[plain.length]).toBe(0xee); // nothing written past it
  });

  it('expands each element alone after a literal, whatever the alignment', () => {
    for (let lead = 1; lead <= 8; lead++) {
      for (const e of elements.filter((x): x is { offset: number; length: number } => 'offset' in x && x.offset <= 300)) {
        const { block, plain } = encode([{ literal: bytes(Math.max(lead, e.offset), lead) }, e, { literal: bytes(lead, 99) }]);
        expect(Array.from(snappyDecompress(block, plain.length))).toEqual(Array.from(plain));
      }
    }
  });

  it('refuses a copy before the start, a block that is too long or too short, and a wrong size', () => {
    const bad = encode([{ literal: bytes(4, 1) }, { offset: 4, length: 8 }]);
    bad.block[bad.block.length - 1] = 9; // offset 9 > the 4 bytes written
    expect(() => snappyDecompress(bad.block, 12)).toThrow(DirectDecodeError);
    const { block, plain } = encode(elements);
    expect(() => snappyDecompress(block, plain.length + 1)).toThrow(/page header says/);
    expect(() => snappyDecompress(block.subarray(0, block.length - 3), plain.length)).toThrow(DirectDecodeError);
  });
});
