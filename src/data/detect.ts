/**
 * What a dropped file is, decided once from its name and, where the name says nothing
 * (DICOM files often have no extension), its first bytes. Loaders switch on `FileKind`.
 */

export type FileKind =
  | 'mhd' // MetaImage header with a detached data file
  | 'mha' // MetaImage with the data attached (ElementDataFile = LOCAL)
  | 'metadata' // a detached MetaImage data file (.raw/.zraw), paired through its .mhd
  | 'csv' // a LUNA16 table
  | 'dicom'
  | 'zip' // an archive: its members are loaded as if dropped (src/data/zip.ts)
  | 'ignored' // known non-data files (READMEs, checksums, OS litter)
  | 'unknown';

/** Bytes needed by `detectKind` to recognise a DICOM file (preamble + "DICM"). */
export const DETECT_HEAD_BYTES = 132;

const IGNORED =
  /(^|\/)(\.ds_store|thumbs\.db|desktop\.ini|readme(\.\w+)?|license(\.\w+)?|attribution.*|sha256sums|md5sums|.*\.(txt|md|json|html?|pdf|png|jpe?g|gz|7z|tar))$/i;

export function extensionOf(path: string): string {
  const base = baseName(path);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/** Where the last path step begins: after the last '/', or after the ':' that ends an
 *  archive's name (a zip member at the archive's top, "subset0.zip:x.mhd"). */
function lastStep(path: string): number {
  const slash = path.lastIndexOf('/');
  const m = /\.zip:(?!.*\.zip:)/i.exec(path);
  const colon = m ? m.index + 4 : -1;
  return Math.max(slash, colon);
}

export function baseName(path: string): string {
  return path.slice(lastStep(path) + 1);
}

/** The folder of a path; for a member at an archive's top, the archive with its ':'. */
export function dirName(path: string): string {
  const at = lastStep(path);
  if (at < 0) return '';
  return path[at] === ':' ? path.slice(0, at + 1) : path.slice(0, at);
}

/** A name inside folder `dir` (as `dirName` gives it). */
export function joinPath(dir: string, name: string): string {
  return dir === '' || dir.endsWith(':') ? `${dir}${name}` : `${dir}/${name}`;
}

/** Decide from the name alone; `null` means the bytes must tell. */
export function kindFromName(path: string): FileKind | null {
  switch (extensionOf(path)) {
    case 'mhd':
      return 'mhd';
    case 'mha':
      return 'mha';
    case 'raw':
    case 'zraw':
      return 'metadata';
    case 'csv':
      return 'csv';
    case 'dcm':
    case 'dicom':
    case 'ima':
      return 'dicom';
    case 'zip':
      return 'zip';
  }
  if (IGNORED.test(path)) return 'ignored';
  return null;
}

/** True when `head` starts like a DICOM file: "DICM" after the 128-byte preamble, or a
 *  preamble-less dataset beginning with a group 0002 or 0008 element (old ACR-NEMA style). */
export function looksLikeDicom(head: Uint8Array): boolean {
  if (head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d) {
    return true;
  }
  if (head.length < 8) return false;
  const group = head[0] | (head[1] << 8);
  const element = head[2] | (head[3] << 8);
  return (group === 0x0002 || group === 0x0008) && element < 0x0100;
}

export function detectKind(path: string, head: Uint8Array): FileKind {
  return kindFromName(path) ?? (looksLikeDicom(head) ? 'dicom' : 'unknown');
}
