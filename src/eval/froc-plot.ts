/**
 * A FROC result as a standalone SVG, drawn as LUNA16's script plots it: sensitivity over the
 * average number of false positives per scan, x on a log2 axis from 1/8 to 8, y from 0 to 1.
 * The line is the interpolant the CPM reads (froc.ts `interp`), the seven operating points are
 * marked, and the bootstrap band (at those seven rates) is shaded. Pure: returns the text.
 */
import { CPM_FPS, interp, type FrocResult } from './froc.ts';

const W = 640;
const H = 480;
const M = { left: 64, right: 20, top: 40, bottom: 56 };
const X0 = Math.log2(CPM_FPS[0]);
const X1 = Math.log2(CPM_FPS[CPM_FPS.length - 1]);

const px = (fps: number): number => M.left + ((Math.log2(fps) - X0) / (X1 - X0)) * (W - M.left - M.right);
const py = (sens: number): number => H - M.bottom - sens * (H - M.top - M.bottom);
const f = (v: number): string => v.toFixed(1);
const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function frocSvg(r: FrocResult, title: string): string {
  const steps = 200;
  const line: string[] = [];
  for (let i = 0; i <= steps; i++) {
    const x = 2 ** (X0 + ((X1 - X0) * i) / steps);
    line.push(`${f(px(x))},${f(py(interp(x, r.curve)))}`);
  }
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(`FROC performance - ${title}`)} (CPM ${r.cpm.toFixed(4)})</text>`,
  ];
  for (const x of CPM_FPS) {
    out.push(`<line x1="${f(px(x))}" y1="${M.top}" x2="${f(px(x))}" y2="${H - M.bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${f(px(x))}" y="${H - M.bottom + 18}" text-anchor="middle">${x}</text>`);
  }
  for (let k = 0; k <= 10; k++) {
    const y = py(k / 10);
    out.push(`<line x1="${M.left}" y1="${f(y)}" x2="${W - M.right}" y2="${f(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 8}" y="${f(y + 4)}" text-anchor="end">${(k / 10).toFixed(1)}</text>`);
  }
  out.push(`<text x="${W / 2}" y="${H - 14}" text-anchor="middle">Average number of false positives per scan</text>`);
  out.push(`<text transform="translate(18 ${H / 2}) rotate(-90)" text-anchor="middle">Sensitivity</text>`);
  if (r.band) {
    const upper = r.band.sensitivities.map((b) => `${f(px(b.fpsPerScan))},${f(py(b.upper))}`);
    const lower = r.band.sensitivities.map((b) => `${f(px(b.fpsPerScan))},${f(py(b.lower))}`).reverse();
    out.push(
      `<polygon data-band="${r.band.confidence}" points="${[...upper, ...lower].join(' ')}" fill="blue" fill-opacity="0.1" stroke="blue" stroke-dasharray="2 3" stroke-width="1"/>`,
    );
  }
  out.push(`<polyline data-curve="interp" points="${line.join(' ')}" fill="none" stroke="blue" stroke-width="2"/>`);
  for (const s of r.sensitivities)
    out.push(
      `<circle data-fps="${s.fpsPerScan}" data-sensitivity="${s.sensitivity}" cx="${f(px(s.fpsPerScan))}" cy="${f(py(s.sensitivity))}" r="3.5" fill="blue"/>`,
    );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
