/**
 * Types for the parts of daikon 1.2.46 (a CommonJS DICOM parser without bundled types) that
 * `src/data/dicom.ts` uses. Only what we call is declared, so that nothing untyped leaks out.
 */
declare module 'daikon' {
  /**
   * A parsed tag value as daikon converts it: string VRs (CS, UI, LO, ...) become `string[]`
   * (split on backslash, trimmed), DS/IS/US/SS/UL/... become `number[]`, binary VRs (OB, OW,
   * UN, ...) stay a `DataView`, sequences are a list of item tags, a Siemens private header may
   * be preformatted as a `string`, and an empty value is `null`.
   */
  export type DaikonTagValue = string[] | number[] | DataView | DaikonTag[] | string | null;

  export interface DaikonTag {
    readonly group: number;
    readonly element: number;
    /** Two-letter VR; for implicit-VR files, looked up in daikon's dictionary. */
    readonly vr: string | null;
    readonly value: DaikonTagValue;
    readonly sublist: boolean;
    /** Byte offsets of the value in the parsed buffer: [offsetValue, offsetEnd). */
    readonly offsetValue?: number;
    readonly offsetEnd?: number;
  }

  export interface DaikonImage {
    /** Byte order of the data set (and so of the pixel data), from the transfer syntax. */
    littleEndian: boolean;
    getTag(group: number, element: number): DaikonTag | undefined;
    hasPixelData(): boolean;
    /** Transfer syntax UID from the file meta group, or null without one. */
    getTransferSyntax(): string | null;
    isCompressed(): boolean;
    /**
     * The pixel data as stored (decompressed first for compressed syntaxes daikon decodes),
     * no rescale applied. A fresh ArrayBuffer holding only the pixel data.
     */
    getRawData(): ArrayBuffer;
  }

  export interface DaikonSeriesStatic {
    /** Parses one file; `null` on a parse error (then `parserError` says why). */
    parseImage(data: DataView): DaikonImage | null;
    parserError: unknown;
  }

  export interface Daikon {
    readonly Series: DaikonSeriesStatic;
  }

  const daikon: Daikon;
  export default daikon;
}
