// H.264 Annex-B helpers for choosing and re-choosing the WebCodecs decoder configuration.
//
// The server sends Annex-B access units and an IDR starts with SPS + PPS. WebCodecs wants a
// codec string `avc1.PPCCLL` (profile_idc, constraint flags, level_idc); these three bytes
// are the first bytes of the SPS after its NAL header, so the string comes straight from the
// stream and a profile change (4:2:0 High ↔ High 4:4:4 for the paint-over refresh) is noticed
// by comparing SPS bytes. Pure functions, no DOM.

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

/** Yields the NAL units (without start codes) of an Annex-B byte stream. */
export function* nalUnits(bytes) {
  const n = bytes.length;
  let start = -1;
  let i = 0;
  while (i + 2 < n) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      if (start >= 0) {
        // Trailing zero bytes belong to the next start code (00 00 00 01).
        let end = i;
        while (end > start && bytes[end - 1] === 0) end--;
        yield bytes.subarray(start, end);
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) yield bytes.subarray(start, n);
}

export const nalType = (nal) => nal[0] & 0x1f;

/** Removes emulation-prevention bytes (00 00 03 → 00 00) from a NAL unit's payload. */
export function unescapeRbsp(nal) {
  const out = new Uint8Array(nal.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/** The first SPS NAL unit of an access unit, or null. */
export function findSps(bytes) {
  for (const nal of nalUnits(bytes)) {
    if (nal.length > 0 && nalType(nal) === NAL_SPS) return nal;
  }
  return null;
}

/** True when the access unit contains an IDR slice. */
export function hasIdr(bytes) {
  for (const nal of nalUnits(bytes)) {
    if (nal.length > 0 && nalType(nal) === NAL_IDR) return true;
  }
  return false;
}

const hex2 = (b) => b.toString(16).toUpperCase().padStart(2, '0');

/** `avc1.PPCCLL` from an SPS NAL unit (with its one-byte NAL header). */
export function codecFromSps(sps) {
  const rbsp = unescapeRbsp(sps.subarray(1));
  if (rbsp.length < 3) throw new Error('SPS too short');
  return `avc1.${hex2(rbsp[0])}${hex2(rbsp[1])}${hex2(rbsp[2])}`;
}

/** Profile 244 (High 4:4:4 Predictive) carries 4:4:4 chroma. */
export const isHigh444 = (codec) => /^avc1\.F4/i.test(codec);

/** Compares two byte arrays. */
export function sameBytes(a, b) {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Codec strings probed at start to tell the server what this browser decodes. */
export const PROBE_H264 = 'avc1.640028'; // High, level 4.0
export const PROBE_H264_BASELINE = 'avc1.42E01F'; // Constrained Baseline, level 3.1
export const PROBE_H264_444 = 'avc1.F40028'; // High 4:4:4 Predictive, level 4.0
